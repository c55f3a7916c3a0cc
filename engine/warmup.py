"""Compile (and cache) every kernel of the compiled trader once: ``python -m engine.warmup``.

Numba compiles a kernel on its first call and caches the machine code on disk
(``cache=True``), so only the very first run on a machine pays the compile time (about a
minute on two cores). ``make install`` runs this, so a backtest or a live flow starts in
seconds; the test session runs it too, before any test starts a flow in a subprocess.
The warm-up drives every entry point of the loop (market data of every kind, venue
responses, timers, a live private stream, shutdown, end of data) on a tiny synthetic
book, in both the paper (simulated venue) and the live (gateway) configuration.
"""

from __future__ import annotations

import time
from decimal import Decimal

import numpy as np

from core.events import EVENT_DTYPE, FIRST, LAST, Fill, Kind, OrderStatus, OrderUpdate
from core.instruments import InstrumentSpec
from core.params import StrategyParams

_SPEC = InstrumentSpec("bybit", "WARMUPUSDT", Decimal("0.01"), Decimal("1"), Decimal("0"))
_T0 = 1_700_000_000_000_000_000
_MS = 1_000_000


def _message(kind: int, ts: int, seq: int, rows: list[tuple[int, int, int]]) -> np.ndarray:
    ev = np.zeros(len(rows), dtype=EVENT_DTYPE)
    for i, (side, price, qty) in enumerate(rows):
        flags = (FIRST if i == 0 else 0) | (LAST if i == len(rows) - 1 else 0)
        ev[i] = (kind, side, flags, ts, ts, price, qty, seq, -1, -1, (seq << 20) | i)
    return ev


def _batch() -> np.ndarray:
    msgs = [_message(Kind.BOOK_SNAPSHOT, _T0, 1, [(1, 10000, 50), (-1, 10010, 50)])]
    for k in range(2, 40):
        t = _T0 + k * 50 * _MS
        msgs.append(_message(Kind.BOOK_DELTA, t, k, [(1, 10000 - k % 3, 40 + k)]))
        msgs.append(_message(Kind.TRADE, t + _MS, -1, [(-1 if k % 2 else 1, 9999, 3)]))
        msgs.append(_message(Kind.BBO, t + 2 * _MS, k, [(1, 10000, 40), (-1, 10010, 50)]))
    msgs.append(_message(Kind.FEED_RESET, _T0 + 3_000 * _MS, -1, [(0, 0, 0)]))
    msgs.append(_message(Kind.BOOK_SNAPSHOT, _T0 + 3_100 * _MS, 1, [(1, 10001, 9), (-1, 10011, 9)]))
    return np.concatenate(msgs)


def warm_up() -> float:
    """Run every entry point once; returns the seconds it took (mostly compiling)."""
    from connectors.feedback import Shutdown
    from connectors.sim.config import SimConfig
    from engine.trader import CompiledTrader

    t0 = time.perf_counter()
    p = StrategyParams()
    batch = _batch()
    paper = CompiledTrader(_SPEC, p, SimConfig.from_params(p), "w", log_quotes=True)
    paper.on_market(batch)
    paper.on_timer(_T0 + 9_000 * _MS)
    paper.on_item(Shutdown("warm-up", _T0 + 9_500 * _MS))
    CompiledTrader(_SPEC, p, SimConfig.from_params(p)).on_market(batch)
    bt = CompiledTrader(_SPEC, p, SimConfig.from_params(p))
    bt.on_market(batch)
    bt.finish()
    live = CompiledTrader(_SPEC, p, None, "w", log_quotes=True)
    out = live.on_market(batch[:2])
    for a in out.actions:
        live.on_own([OrderUpdate(live.inst, a.client_id, OrderStatus.NEW, a.side, a.price,
                                 a.qty, 0, _T0, _T0 + _MS)], _T0 + _MS)  # fmt: skip
    if out.actions:
        a = out.actions[0]
        live.on_own([Fill(live.inst, a.client_id, a.side, a.price, 1, 0, True, _T0, _T0 + _MS)],
                    _T0 + 2 * _MS)  # fmt: skip
    live.on_timer(_T0 + 20_000 * _MS)
    live.on_item(Shutdown("warm-up", _T0 + 21_000 * _MS))
    return time.perf_counter() - t0


def main() -> None:
    print(f"compiled trader ready ({warm_up():.1f} s)")


if __name__ == "__main__":
    main()
