"""Shared fixtures: an isolated environment per session and the bundled sample lake.

Area-specific fixtures live in each test folder's own conftest.py.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLE_DIR = REPO / "data" / "sample"
BINANCE_SAMPLE = SAMPLE_DIR / "binance-usdm_btcusdt_20240808.gz"
BYBIT_SAMPLE = SAMPLE_DIR / "bybit_xrpusdt_ob500_2024-12-01.data.gz"
HYPERLIQUID_SAMPLE = SAMPLE_DIR / "hyperliquid_btc_20250126.gz"


@pytest.fixture(scope="session", autouse=True)
def isolated_env(tmp_path_factory: pytest.TempPathFactory) -> None:
    """No test reads the user's MM_* settings, .env, Prefect home or terminal."""
    for key in list(os.environ):
        if key.startswith(("MM_", "BYBIT_", "HYPERLIQUID_")):
            del os.environ[key]
    home = tmp_path_factory.mktemp("prefect_home")
    os.environ["PREFECT_HOME"] = str(home)
    os.environ.pop("PREFECT_API_URL", None)
    os.environ["MM_PROGRESS"] = "0"
    os.environ["PYTHONHASHSEED"] = "0"


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
