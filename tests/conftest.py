"""Shared fixtures: an isolated environment per session and the bundled sample lake.

Area-specific fixtures live in each test folder's own conftest.py.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLE_DIR = REPO / "data" / "sample"
BINANCE_SAMPLE = SAMPLE_DIR / "binance-usdm_btcusdt_20240808.gz"
BYBIT_SAMPLE = SAMPLE_DIR / "bybit_xrpusdt_ob500_2024-12-01.data.gz"
HYPERLIQUID_SAMPLE = SAMPLE_DIR / "hyperliquid_btc_20250126.gz"


_PREFECT_HOME = Path(tempfile.mkdtemp(prefix="mm-test-prefect-"))
_MM_HOME = Path(tempfile.mkdtemp(prefix="mm-test-home-"))


def pytest_configure(config: pytest.Config) -> None:
    """Isolate the environment before any test module (or Prefect) is imported.

    No test reads the user's MM_*/BYBIT_* settings, ~/.prefect, or a Prefect server.
    Prefect reads its settings when imported, so this cannot wait for a fixture.
    """
    for key in list(os.environ):
        if key.startswith(("MM_", "BYBIT_", "HYPERLIQUID_", "PREFECT_")):
            del os.environ[key]
    os.environ["MM_HOME"] = str(_MM_HOME)  # never the user's ~/.mmflow instrument catalog
    os.environ["PREFECT_HOME"] = str(_PREFECT_HOME)  # flows run against a temporary local API
    os.environ["PREFECT_LOGGING_LEVEL"] = "WARNING"  # its shutdown line outlives pytest's streams
    os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    # the temporary API migrates a fresh SQLite database at start: slow on a loaded machine
    os.environ["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"] = "120"
    os.environ["MM_PROGRESS"] = "0"
    os.environ["PYTHONHASHSEED"] = "0"
    # MMTEST_ENGINE=python runs the whole suite on the plain-Python reference trader
    if os.environ.get("MMTEST_ENGINE"):
        os.environ["MM_ENGINE"] = os.environ["MMTEST_ENGINE"]


@pytest.fixture(scope="session", autouse=True)
def compiled_kernels() -> None:
    """Compile (or load from numba's cache) every kernel before any test runs, so a flow
    started in a subprocess never spends its start-up deadline compiling."""
    from engine.warmup import warm_up

    warm_up()


@pytest.fixture(autouse=True)
def mm_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh, empty MM_HOME per test: a catalog one test writes is never seen by another."""
    home = tmp_path_factory.mktemp("mm-home")
    monkeypatch.setenv("MM_HOME", str(home))
    return home


# files and folders that share an expensive session fixture run on one worker: the live
# runs, the sample backtest, and Prefect's temporary API (its start migrates a database)
_SHARED_GROUPS = {
    "live": "live",
    "warehouse": "warehouse",
    "orchestration": "prefect",
    "optimize/test_opt_reoptimize_flow.py": "prefect",
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under xdist (``--dist loadgroup``) keep each file on one worker, so its module-scoped
    fixtures are built once, and each group of ``_SHARED_GROUPS`` on one worker, so its
    session fixtures are too (a live run or a Prefect start costs seconds of CPU)."""
    if not config.pluginmanager.hasplugin("xdist"):
        return
    tests = REPO / "tests"
    for item in items:
        if not item.path.is_relative_to(tests):  # a test file given from elsewhere
            item.add_marker(pytest.mark.xdist_group(str(item.path)))
            continue
        rel = item.path.relative_to(tests)
        path = rel.as_posix()
        group = _SHARED_GROUPS.get(rel.parts[0]) or _SHARED_GROUPS.get(path) or path
        item.add_marker(pytest.mark.xdist_group(group))


def pytest_unconfigure(config: pytest.Config) -> None:
    shutil.rmtree(_PREFECT_HOME, ignore_errors=True)
    shutil.rmtree(_MM_HOME, ignore_errors=True)


@pytest.fixture(scope="session")
def sample_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """All three bundled recordings imported once into a session lake (treat as read-only)."""
    from warehouse.importer import import_file

    lake = tmp_path_factory.mktemp("sample_lake")
    for f in (BINANCE_SAMPLE, BYBIT_SAMPLE, HYPERLIQUID_SAMPLE):
        import_file(f, lake, progress=False)
    return lake


@pytest.fixture
def lake_copy(sample_lake: Path, tmp_path: Path) -> Path:
    """A writable copy of the sample lake for tests that add to it."""
    dst = tmp_path / "lake"
    shutil.copytree(sample_lake, dst)
    return dst


@pytest.fixture(params=["python", "compiled"])
def both_engines(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test against the reference trader and the compiled loop (MM_ENGINE).

    Modules opt in with ``pytestmark = pytest.mark.usefixtures("both_engines")``; traders
    built with ``engine.select.make_trader`` (and every flow) follow the setting.
    """
    monkeypatch.setenv("MM_ENGINE", request.param)
    return request.param
