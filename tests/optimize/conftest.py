"""Fixtures for the optimizer: the Binance sample in a session lake the optimizer may write to."""

from __future__ import annotations

from pathlib import Path

import pytest

BINANCE_SAMPLE = (
    Path(__file__).resolve().parents[2] / "data" / "sample" / "binance-usdm_btcusdt_20240808.gz"
)


@pytest.fixture(scope="session")
def opt_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Binance sample imported once; studies write their trials and decisions here."""
    from warehouse.importer import import_file

    lake = tmp_path_factory.mktemp("opt_lake")
    import_file(BINANCE_SAMPLE, lake, progress=False)
    return lake


@pytest.fixture
def small_space(tmp_path: Path) -> Path:
    """Two dimensions: enough for TPE/grid to differ, small enough for 4-8 trials."""
    path = tmp_path / "space.yaml"
    path.write_text(
        "params:\n"
        "  quote.base_spread_bps: {low: 0.5, high: 6.0}\n"
        "  quote.order_size_usd: {low: 50.0, high: 300.0, step: 50.0}\n"
    )
    return path
