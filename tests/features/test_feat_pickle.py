"""Every feature state survives a pickle round trip mid-stream (Bytewax snapshots it).

Reference operators and compiled kernels alike (the ``impl`` fixture)."""

from __future__ import annotations

import pickle
import random
from types import SimpleNamespace
from typing import Any

from core.l2book import L2Book

MS = 1_000_000


def market(n: int, seed: int, book_type: type) -> list[tuple[int, float, L2Book, int]]:
    """(ts, mid, book, trade side) per step of a seeded random market, 50 ms apart."""
    rng = random.Random(seed)
    out = []
    mid = 20_000
    for i in range(n):
        mid += rng.choice((-2, -1, 0, 1, 2))
        book = book_type()
        for k in range(5):
            book.set(1, mid - 1 - k, rng.randint(1, 50))
            book.set(-1, mid + 1 + k, rng.randint(1, 50))
        out.append((i * 50 * MS, float(mid), book, rng.choice((1, -1))))
    return out


def drive(obj: Any, step: tuple[int, float, L2Book, int]) -> Any:
    """Feed one market step to any feature object; returns what it reports."""
    ts, mid, book, side = step
    kind = type(obj).__name__.removeprefix("Compiled")
    if kind == "ImbalanceEMA":
        return obj.update(book, ts)
    if kind == "Volatility":
        return obj.update(mid, ts), obj.vol_bps, obj.atr_bps, obj.samples
    if kind == "RegimeDetector":
        return obj.update(mid / 1000.0)
    if kind == "KalmanTrend":
        return obj.update(mid)
    if kind == "QQE":
        return obj.update(mid), obj.trailing
    if kind == "DirectionalSignal":
        return obj.update(mid, ts * 20), obj.slope_bps  # 1 s per step: samples close
    assert kind == "ToxicityDetector"
    obj.on_book(book, ts)
    obj.on_trade(side, 1, ts)
    if ts % (500 * MS) == 0:
        obj.on_fill(side, mid, ts)
    obj.on_mid(mid, ts)
    return obj.reading(ts), obj.markout_ema


def test_round_trip_mid_stream_continues_identically(impl: SimpleNamespace) -> None:
    steps = market(400, seed=5, book_type=impl.Book)
    factories = [
        impl.ImbalanceEMA,
        impl.Volatility,
        lambda: impl.RegimeDetector(window=40, min_samples=5),
        impl.KalmanTrend,
        impl.QQE,
        impl.DirectionalSignal,
        impl.ToxicityDetector,
    ]
    for make in factories:
        original = make()
        for step in steps[:200]:
            drive(original, step)
        clone = pickle.loads(pickle.dumps(original))
        assert type(clone) is type(original)
        a = [drive(original, s) for s in steps[200:]]
        b = [drive(clone, s) for s in steps[200:]]
        assert a == b, type(original).__name__
        assert len(set(map(repr, a))) > 1, type(original).__name__  # it was really moving
