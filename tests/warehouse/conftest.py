"""Fixtures of the warehouse tests: hand-made run directories (see wh_data.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from wh_data import write_run


@pytest.fixture(scope="session")
def hand_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The hand-made run of wh_data.py (treat as read-only)."""
    return write_run(tmp_path_factory.mktemp("runs") / "runA")


@pytest.fixture(scope="session")
def sample_run(sample_lake: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`mm backtest` of the bundled Binance sample (default parameters), run once."""
    from cli.cmd_backtest import run_backtest

    out = tmp_path_factory.mktemp("sample_run") / "run"
    run_backtest(sample_lake, "binance-usdm", "BTCUSDT", out, progress=False)
    return out
