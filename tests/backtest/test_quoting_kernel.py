"""The compiled quote engine against the reference, bit for bit (randomized, fixed seeds)."""

from __future__ import annotations

import math
import pickle
import zlib
from decimal import Decimal

import numpy as np
import pytest

from core.instruments import ASK, BID, KNOWN_INSTRUMENTS, InstrumentSpec
from core.params import StrategyParams
from operators.quoting.engine import MarketView, QuoteEngine
from operators.quoting.kernel import (
    CompiledQuoteEngine,
    qe_quantum_ticks,
    qe_round_ticks,
    sig_fig_buckets,
)

SIG_SPECS = [
    KNOWN_INSTRUMENTS["hyperliquid:BTC"],
    KNOWN_INSTRUMENTS["hyperliquid:ETH"],
    KNOWN_INSTRUMENTS["hyperliquid:SOL"],
    InstrumentSpec("hl", "A", Decimal("1"), Decimal("1"), price_sig_figs=3),
    InstrumentSpec("hl", "B", Decimal("0.000001"), Decimal("1"), price_sig_figs=5),
    InstrumentSpec("hl", "C", Decimal("0.10"), Decimal("1"), price_sig_figs=7),
    InstrumentSpec("hl", "D", Decimal("10"), Decimal("1"), price_sig_figs=2),
    InstrumentSpec("hl", "E", Decimal("0.5"), Decimal("1"), price_sig_figs=4),  # not 10^k
]
GRID_SPECS = [
    KNOWN_INSTRUMENTS["binance-usdm:BTCUSDT"],
    KNOWN_INSTRUMENTS["bybit:XRPUSDT"],
    KNOWN_INSTRUMENTS["bybit:SOLUSDT"],
]


def _prices(rng: np.random.Generator, spec: InstrumentSpec, n: int) -> list[float]:
    """Log-uniform prices, prices a few ulps around every power of ten (where the
    significant-figure quantum changes), integers, halves and prices on and off the grid."""
    out = [float(x) for x in 10.0 ** rng.uniform(-3, 13, n)]
    for k in range(-2, 16):
        p = 10.0**k
        for off in range(-4, 5):
            x = p
            for _ in range(abs(off)):
                x = math.nextafter(x, 0.0 if off < 0 else math.inf)
            out.append(x)
        out.append(p * (1 + 1e-12))
        out.append(p * (1 - 1e-12))
    for thr in map(float, sig_fig_buckets(spec)[0]):
        out += [thr, math.nextafter(thr, 0.0), math.nextafter(thr, math.inf)]
    ints = [int(i) for i in rng.integers(1, 10**9, n // 4)]
    out += [float(i) for i in ints] + [i + 0.5 for i in ints[:200]]
    out += [float(i) + float(rng.choice([-1e-9, 1e-9, 1e-10, 2e-9])) for i in ints[:500]]
    out += [0.0, -1.0, -0.0, 1e-300, 5e-324, float("nan")]
    return out


@pytest.mark.parametrize("spec", SIG_SPECS + GRID_SPECS, ids=lambda s: s.id + str(s.tick_size))
def test_round_ticks_matches_reference_on_random_prices(spec: InstrumentSpec) -> None:
    """``qe_round_ticks`` equals ``InstrumentSpec.round_ticks`` (whose sig-fig quantum goes
    through ``Decimal(repr(price))``) on ~6k prices per spec, both sides, and the quantum
    equals ``_quantum_ticks`` for every positive price."""
    rng = np.random.default_rng(11)
    qe = CompiledQuoteEngine(spec, StrategyParams()).qe
    for x in _prices(rng, spec, 4000):
        if spec.price_sig_figs is not None and x > 0:
            assert qe_quantum_ticks(qe, x) == spec._quantum_ticks(x), x
        if not math.isfinite(x) or x > 1e17:  # the reference's floor raises / leaves int64
            continue
        for side in (BID, ASK):
            assert qe_round_ticks(qe, x, side) == spec.round_ticks(x, side), (x, side)


def test_sig_fig_thresholds_sit_exactly_where_repr_crosses_a_power_of_ten() -> None:
    # Hyperliquid BTC (tick 0.1, 5 sig figs): from 100000 ticks (price 10000) on, a price
    # must be a whole dollar (10 ticks); the largest float below 100000 is still on 1 tick
    spec = KNOWN_INSTRUMENTS["hyperliquid:BTC"]
    thr, quanta = sig_fig_buckets(spec)
    assert list(thr) == [1000.0, 10000.0, 100000.0] and list(quanta) == [1, 1, 1, 10]
    below = math.nextafter(100000.0, 0.0)
    assert repr(below) == "99999.99999999999" and spec._quantum_ticks(below) == 1
    qe = CompiledQuoteEngine(spec, StrategyParams()).qe
    assert qe_quantum_ticks(qe, below) == 1 and qe_quantum_ticks(qe, 100000.0) == 10
    assert qe_round_ticks(qe, 100004.0, ASK) == 100010 == spec.round_ticks(100004.0, ASK)


def _random_params(
    rng: np.random.Generator,
) -> tuple[StrategyParams, float | None, float | None]:
    p = StrategyParams()
    ceiling = floor = None
    if rng.random() < 0.2:
        ceiling = float(rng.uniform(0.5, 2.0))  # x mid price, set below
    if rng.random() < 0.2:
        floor = float(rng.uniform(0.5, 2.0))
    q = {
        "base_spread_bps": float(rng.choice([0.0, rng.uniform(0, 10)])),
        "vol_multiplier": float(rng.uniform(0, 3)),
        "inventory_skew_factor": float(rng.uniform(0, 2)),
        "bias_strength": float(rng.choice([0.0, rng.uniform(0, 1.5)])),
        "order_size_usd": float(rng.choice([100.0, rng.uniform(1, 3000)])),
        "levels": int(rng.integers(1, 6)),
        "use_regimes": bool(rng.random() < 0.5),
        "level_spacing_bps": float(rng.choice([0.0, rng.uniform(0, 5)])),
        "level_size_multiplier": float(rng.uniform(0.5, 2.5)),
        "min_spread_fee_multiple": float(rng.uniform(0, 3)),
        "warmup_vol_bps": float(rng.uniform(0, 5)),
        "toxicity_widen": float(rng.uniform(0, 3)),
        "toxicity_pull_score": float(rng.uniform(0, 1)),
        "inventory_target_pct": float(rng.choice([0.0, -0.0, rng.uniform(-1, 1)])),
        "capital_usd": float(rng.uniform(100, 100000)),
    }
    r = {
        "max_position_usd": float(rng.uniform(10, 20000)),
        "max_position_units": None if rng.random() < 0.5 else float(rng.uniform(0.001, 500)),
    }
    f = {"maker": float(rng.choice([-0.00015, 0.0, 0.0002, rng.uniform(-0.001, 0.001)]))}
    p = p.model_copy(
        update={
            "quote": p.quote.model_copy(update=q),
            "risk": p.risk.model_copy(update=r),
            "fees": p.fees.model_copy(update=f),
        }
    )
    return p, ceiling, floor


def _with_band(
    p: StrategyParams, ceiling: float | None, floor: float | None, price: float
) -> StrategyParams:
    q = {
        "price_ceiling": None if ceiling is None else ceiling * price,
        "price_floor": None if floor is None else floor * price,
    }
    lo, hi = q["price_floor"], q["price_ceiling"]
    if lo is not None and hi is not None and lo >= hi:
        q["price_floor"] = None
    return p.model_copy(update={"quote": p.quote.model_copy(update=q)})


def _random_view(rng: np.random.Generator, mid_ticks: int) -> MarketView:
    spread = int(rng.choice([1, 1, 2, int(rng.integers(1, 200))]))
    bb = max(1, mid_ticks + int(rng.integers(-mid_ticks // 100, mid_ticks // 100 + 1)))
    ba = bb + spread
    if rng.random() < 0.03:  # an empty side is passed as 0
        bb, ba = (0, ba) if rng.random() < 0.5 else (bb, 0)
    tox = 0.0 if rng.random() < 0.5 else float(rng.uniform(0, 1))
    return MarketView(
        best_bid=bb,
        best_ask=ba,
        mid_x2=bb + ba if rng.random() > 0.01 else 0,
        vol_bps=None if rng.random() < 0.15 else float(rng.uniform(0, 30)),
        spread_clamp_bps=float(rng.choice([0.0, 0.5, 1.0, 2.0, rng.uniform(0, 10)])),
        levels=int(rng.integers(1, 6)),
        position_multiplier=float(rng.choice([0.7, 1.0, 1.2, rng.uniform(0.1, 3)])),
        regime=int(rng.integers(0, 3)),
        signal=int(rng.integers(-1, 2)),
        toxicity=tox,
        threatened_side=int(rng.choice([BID, ASK, 0])),
    )


@pytest.mark.parametrize(
    "spec",
    [
        KNOWN_INSTRUMENTS["binance-usdm:BTCUSDT"],
        KNOWN_INSTRUMENTS["bybit:XRPUSDT"],
        KNOWN_INSTRUMENTS["hyperliquid:BTC"],
        KNOWN_INSTRUMENTS["hyperliquid:ETH"],
        KNOWN_INSTRUMENTS["hyperliquid:SOL"],
    ],
    ids=lambda s: s.id,
)
def test_compiled_quotes_match_reference_on_random_views(spec: InstrumentSpec) -> None:
    """Differential: 60 random parameter sets x 30 random views (volatility or none,
    regimes, levels, signals, toxicity on either side, price bands, inventory targets,
    positive and negative maker fees, unit limits) and random positions: the QuoteSet
    (every level, every float by repr) and the sizing functions agree exactly."""
    rng = np.random.default_rng(zlib.crc32(spec.id.encode()))
    mids = {"binance-usdm:BTCUSDT": 618000, "bybit:XRPUSDT": 5234, "hyperliquid:BTC": 1050555}
    mids |= {"hyperliquid:ETH": 345678, "hyperliquid:SOL": 145123}
    for _ in range(60):
        base, ceiling, floor = _random_params(rng)
        mid_ticks = int(mids[spec.id] * rng.uniform(0.2, 5))
        p = _with_band(base, ceiling, floor, mid_ticks * float(spec.tick_size))
        ref, fast = QuoteEngine(spec, p), pickle.loads(pickle.dumps(CompiledQuoteEngine(spec, p)))
        for _ in range(30):
            v = _random_view(rng, mid_ticks)
            max_pos = ref.max_position_lots(v.mid_x2 / 2, v.position_multiplier)
            pos = int(rng.integers(-max_pos - 3, max_pos + 4))
            allow = (bool(rng.random() < 0.9), bool(rng.random() < 0.9))
            a = ref.quote(v, pos, *allow)
            b = fast.quote(v, pos, *allow)
            assert repr(b) == repr(a)
            assert fast.half_spread_bps(v) == ref.half_spread_bps(v)
            m = float(rng.uniform(0, 2 * mid_ticks))
            mult = float(rng.uniform(0, 3))
            assert fast.max_position_lots(m, mult) == ref.max_position_lots(m, mult)
            px = int(rng.integers(1, 3 * mid_ticks))
            usd = float(rng.uniform(0, 5000))
            assert fast.order_lots(px, usd) == ref.order_lots(px, usd)
