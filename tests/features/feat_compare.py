"""Bit-for-bit comparison of a reference feature object with its compiled wrapper."""

from __future__ import annotations

import struct
from enum import Enum
from typing import Any

from operators.features import kernel as K
from operators.features.imbalance import ImbalanceEMA
from operators.features.regime import RegimeDetector, RegimeParams
from operators.features.signal import QQE, DirectionalSignal, KalmanTrend
from operators.features.toxicity import ToxicityDetector, ToxicityReading
from operators.features.volatility import Volatility


def exact(x: Any) -> Any:
    """A value with numbers replaced by their float64 bit patterns, recursively.

    Bools and enums keep their type; ints and floats compare as float64 bits (an int mid
    fed to the reference stays an int there, a float64 in the kernel: same number).
    """
    if isinstance(x, (bool, Enum)) or x is None or isinstance(x, str):
        return (type(x).__name__, x)
    if isinstance(x, (int, float)):
        return ("num", struct.unpack("<q", struct.pack("<d", float(x)))[0])
    if isinstance(x, (list, tuple)) or type(x).__name__ in ("deque", "SortedList"):
        return [exact(v) for v in x]
    if isinstance(x, ToxicityReading):
        return ("reading", exact(x.score), x.reasons, exact(x.threatened_side))
    if isinstance(x, RegimeParams):
        return ("params", exact(tuple(vars(x).values())))
    raise TypeError(f"cannot compare {type(x).__name__}")


AVG_SLOTS = ("alpha", "length", "seed_sum", "seen", "value")
STATE: dict[type, tuple[str, ...]] = {
    ImbalanceEMA: ImbalanceEMA.__slots__,
    Volatility: Volatility.__slots__,
    KalmanTrend: KalmanTrend.__slots__,
    QQE: QQE.__slots__,
    DirectionalSignal: DirectionalSignal.__slots__,
    RegimeDetector: (
        "window",
        "min_samples",
        "regime",
        "low_cut",
        "high_cut",
        "_recent",
        "_sorted",
    ),
    ToxicityDetector: (
        "drift_bps",
        "imbalance_threshold",
        "depth_levels",
        "aggressor_threshold",
        "aggressor_window",
        "markout_scale_bps",
        "markout_alpha",
        "markout_threshold",
        "_lo_ns",
        "_hi_ns",
        "_horizon_ns",
        "imbalance",
        "markout_ema",
        "markouts",
        "_buys",
        "_sells",
        "_micro",
        "_sides",
        "_pending",
    ),
}


RINGS = ("_recent", "_sorted", "_micro", "_sides", "_pending")


def state(ref: Any, fast: Any, rings: bool = True) -> tuple[dict[str, Any], dict[str, Any]]:
    """Every attribute of the reference object and the same names on the compiled one
    (without the windows' contents if not ``rings``)."""
    a: dict[str, Any] = {}
    b: dict[str, Any] = {}
    for name in STATE[type(ref)]:
        if not rings and name in RINGS:
            continue
        x, y = getattr(ref, name), getattr(fast, name)
        if name in ("kalman", "qqe"):
            sa, sb = state(x, y)
            a.update({f"{name}.{k}": v for k, v in sa.items()})
            b.update({f"{name}.{k}": v for k, v in sb.items()})
        elif name in K.QQE_AVGS:
            for s in AVG_SLOTS:
                a[f"{name}.{s}"] = exact(getattr(x, s))
                b[f"{name}.{s}"] = exact(getattr(y, s))
        else:
            a[name], b[name] = exact(x), exact(y)
    return a, b


def assert_same_state(ref: Any, fast: Any, rings: bool = True) -> None:
    a, b = state(ref, fast, rings)
    assert a == b
