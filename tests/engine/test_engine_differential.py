"""The compiled loop against the reference trader: identical outputs, bit for bit.

Every run table row, log line, order action and the summary must be equal (floats by
their repr, NaN equal to NaN; the summary's wall-time fields excepted), on the bundled
recordings under several parameter sets that exercise the queue models, latency modes,
regimes, hanging orders, the risk states and the stops, and for any batching.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from diff_helpers import run_both

from connectors.sim.config import SimConfig
from connectors.sim.venue import SimVenue
from core.lake import iter_events, read_instrument
from core.params import StrategyParams
from engine.trader import CompiledTrader
from operators.trader import Trader

SAMPLES = {
    "binance": ("binance-usdm", "BTCUSDT"),
    "bybit": ("bybit", "XRPUSDT"),
    "hyperliquid": ("hyperliquid", "BTC"),
}


def events(lake: Path, venue: str, symbol: str) -> np.ndarray:
    return np.concatenate(list(iter_events(lake, venue, symbol)))


def params(**updates: dict) -> StrategyParams:
    p = StrategyParams()
    return p.model_copy(update={k: getattr(p, k).model_copy(update=v) for k, v in updates.items()})


def pair(lake: Path, venue: str, symbol: str, p: StrategyParams) -> tuple[Trader, CompiledTrader]:
    spec = read_instrument(lake, venue, symbol)
    ref = Trader(spec, p, SimVenue(spec, SimConfig.from_params(p)))
    fast = CompiledTrader(spec, p, SimConfig.from_params(p))
    return ref, fast


VARIANTS = {
    "default": params(),
    "power_queue_recorded_latency": params(
        sim={"queue_model": "power", "md_latency": "recorded", "order_latency_ms": 2.0}
    ),
    "log_queue_levels_hanging": params(
        sim={"queue_model": "log"},
        quote={"use_regimes": False, "levels": 3, "hanging_orders": True, "max_order_age_s": 5.0},
    ),
    "tight_risk_and_stops": params(
        risk={
            "max_position_usd": 150.0,
            "daily_loss_limit_usd": 0.05,
            "trailing_stop_bps": 3.0,
            "break_even_trigger_bps": 2.0,
            "cooldown_s": 5.0,
        },
        quote={"order_size_usd": 120.0, "base_spread_bps": 0.5, "inventory_target_pct": 0.1},
        orders={"rate_limit_per_s": 3.0, "rate_burst": 2, "max_order_usd": 130.0},
    ),
    "signal_toxicity": params(
        quote={"bias_strength": 0.3, "toxicity_widen": 2.0, "toxicity_pull_score": 0.5},
        features={"toxicity_imbalance": 0.3, "toxicity_aggressor_window": 10},
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_binance_sample(sample_lake: Path, variant: str) -> None:
    venue, symbol = SAMPLES["binance"]
    ref, fast = pair(sample_lake, venue, symbol, VARIANTS[variant])
    a, b = run_both(ref, fast, events(sample_lake, venue, symbol))
    assert a.fills and a.quotes and a.pnl, "the variant must trade to test anything"
    a.assert_equal(b)


@pytest.mark.parametrize("sample", ["bybit", "hyperliquid"])
@pytest.mark.parametrize("variant", ["default", "log_queue_levels_hanging", "tight_risk_and_stops"])
def test_other_venues(sample_lake: Path, sample: str, variant: str) -> None:
    venue, symbol = SAMPLES[sample]
    ref, fast = pair(sample_lake, venue, symbol, VARIANTS[variant])
    a, b = run_both(ref, fast, events(sample_lake, venue, symbol))
    assert a.quotes
    a.assert_equal(b)


@pytest.mark.parametrize("rows", [1, 37, 100_000_000])
def test_batching_does_not_change_anything(sample_lake: Path, rows: int) -> None:
    """One message per call, odd batches, or the whole capture in one call: same output."""
    venue, symbol = SAMPLES["bybit"]
    ref, fast = pair(sample_lake, venue, symbol, VARIANTS["default"])
    a, b = run_both(ref, fast, events(sample_lake, venue, symbol), rows=5_000, fast_rows=rows)
    a.assert_equal(b)


BIG_SLOW = params(
    sim={"order_latency_ms": 40.0, "response_latency_ms": 25.0, "queue_model": "power"},
    quote={"order_size_usd": 3000.0, "use_regimes": False, "levels": 4, "vol_multiplier": 0.0,
           "level_spacing_bps": 0.2, "base_spread_bps": 0.0, "warmup_vol_bps": 0.0},
    risk={"max_position_usd": 9000.0},
    orders={"replace_threshold_ticks": 0, "max_open_orders": 7, "max_order_usd": 3500.0},
)  # fmt: skip


@pytest.fixture(scope="module")
def two_copies(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two back-to-back copies of the Binance sample: the book gaps and resyncs between."""
    from bench.make_day import make_day

    lake = tmp_path_factory.mktemp("two_copies")
    make_day(lake, copies=2, progress=False)
    return lake


@pytest.mark.slow
@pytest.mark.parametrize("variant", ["default", "big_slow"])
def test_a_resync_between_copies(two_copies: Path, variant: str) -> None:
    """A gap, a resync at the next snapshot and quoting again; with big slow orders also
    partial fills, post-only rejects of late amends and pre-trade rejections."""
    from collections import Counter

    p = VARIANTS["default"] if variant == "default" else BIG_SLOW
    ref, fast = pair(two_copies, "binance-usdm", "BTCUSDT", p)
    a, b = run_both(ref, fast, events(two_copies, "binance-usdm", "BTCUSDT"), rows=20_000)
    assert ref.sync.stats.resyncs == 1 and ref.sync.stats.gaps == 1
    kinds = Counter(o[3] for o in a.orders)
    if variant == "big_slow":
        assert kinds["partially_filled"] and kinds["rejected_pretrade"] and kinds["rejected"]
        assert any("post-only" in o[9] for o in a.orders if o[3] == "rejected")
    a.assert_equal(b)
