"""A hand-made 30-second run whose every analytic is computed by hand below.

Instrument tick 0.5 / lot 0.25: binary fractions, so float prices are exact and the
expected values can be compared with ``==`` where the arithmetic is exact.

Timeline (seconds after T0 = 2024-08-08 00:00:00 UTC), mid in price units:

  t=0   quotes seq1: bid L0 99.5, ask L0 100.5, bid L1 99.0, ask L1 101.0 (1.0 each), mid 100
  t=2   fill f1: BUY 1.0 @ 99.5 (L0, maker, fee -0.0125), mid 100 -> position 1.0
  t=3   mid 100.5
  t=4   fill f2: SELL 0.5 @ 100.5 (L0, maker, fee -0.00625), mid 100 -> position 0.5
  t=5   mid 99
  t=10  quotes seq2: bid L0 99.0, ask L0 101.0 (no level 1); mid 101
  t=12  fill f3: SELL 0.5 @ 100.5 (flatten, level -1, taker, fee +0.05), mid 101 -> position 0
  t=20  quotes seq3: quoting nothing; risk state POSITION_LIMIT
  t=30  end of run (last PnL row), risk state SAFE
"""

from __future__ import annotations

import json
import math
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa

from core.instruments import InstrumentSpec
from core.lake import table_def
from warehouse.lake_writer import write_instrument, write_rows

T0 = 1_723_075_200 * 10**9  # 2024-08-08T00:00:00Z
S = 10**9
VENUE, SYMBOL = "binance-usdm", "TESTUSDT"
TICK, LOT = 0.5, 0.25
SPEC = InstrumentSpec(VENUE, SYMBOL, Decimal("0.5"), Decimal("0.25"), Decimal(0))
NAN = math.nan


def frame(table: str, rows: list[dict[str, Any]]) -> pl.DataFrame:
    """Rows -> a frame with the table's exact schema types (what the run sink writes)."""
    return pl.from_arrow(pa.Table.from_pylist(rows, schema=table_def(table).schema))


def _quote(t: float, seq: int, side: int, level: int, price: int, qty: int, mid: float) -> dict:
    return {
        "recv_ts": T0 + int(t * S), "seq": seq, "side": side, "level": level, "price": price,
        "qty": qty, "price_f": price * TICK if level >= 0 else NAN,
        "qty_f": qty * LOT if level >= 0 else NAN, "mid": mid, "reservation": mid,
        "half_spread_bps": 50.0, "vol_bps": 10.0, "regime": 1, "signal": 0, "toxicity": 0.0,
        "risk_state": 0,
    }  # fmt: skip


QUOTES = [
    _quote(0, 1, 1, 0, 199, 4, 100.0),
    _quote(0, 1, -1, 0, 201, 4, 100.0),
    _quote(0, 1, 1, 1, 198, 4, 100.0),
    _quote(0, 1, -1, 1, 202, 4, 100.0),
    _quote(10, 2, 1, 0, 198, 4, 101.0),
    _quote(10, 2, -1, 0, 202, 4, 101.0),
    _quote(20, 3, 0, -1, 0, 0, 101.0),
]


def _fill(t: float, seq: int, cid: str, side: int, level: int, price: int, qty: int,
          fee_units: int, maker: bool, pos: int, mids: tuple[float, ...]) -> dict:  # fmt: skip
    unit = TICK * LOT  # 0.125 quote per tick x lot
    return {
        "recv_ts": T0 + int(t * S), "exch_ts": T0 + int(t * S) - 1000, "seq": seq,
        "client_id": cid, "exec_id": f"e{seq}", "side": side, "level": level, "price": price,
        "qty": qty, "price_f": price * TICK, "qty_f": qty * LOT,
        "notional": price * qty * unit, "fee": fee_units * unit / 1e8, "fee_units": fee_units,
        "is_maker": maker, "position_after": pos, "mid_at_fill": mids[0], "mid_1s": mids[1],
        "mid_5s": mids[2], "mid_30s": mids[3], "mid_60s": mids[4],
    }  # fmt: skip


FILLS = [
    _fill(2, 1, "c1", 1, 0, 199, 4, -10_000_000, True, 4, (100.0, 100.5, 99.0, 101.0, NAN)),
    _fill(4, 2, "c2", -1, 0, 201, 2, -5_000_000, True, 2, (100.0, 100.0, 101.0, NAN, NAN)),
    _fill(12, 3, "c6", -1, -1, 201, 2, 40_000_000, False, 0, (101.0, 101.0, 101.0, NAN, NAN)),
]


def _pnl(t: float, seq: int, pos_lots: int, mid: float, cash: float, fees: float,
         realized: float, total: float, dd: float, risk: int = 0) -> dict:  # fmt: skip
    pos = pos_lots * LOT
    return {
        "recv_ts": T0 + int(t * S), "seq": seq, "position": pos_lots, "position_f": pos,
        "mid": mid, "cash": cash, "realized": realized, "unrealized": total - realized + fees,
        "fees": fees, "total": total, "inventory_usd": pos * mid, "drawdown": dd,
        "risk_state": risk,
    }  # fmt: skip


# total = cash + position x mid - fees (fees > 0 = paid)
PNL = [
    _pnl(0, 1, 0, 100.0, 0.0, 0.0, 0.0, 0.0, 0.0),
    _pnl(1, 2, 0, 100.0, 0.0, 0.0, 0.0, 0.0, 0.0),
    _pnl(2, 3, 4, 100.0, -99.5, -0.0125, 0.0, 0.5125, 0.0),
    _pnl(3, 4, 4, 100.5, -99.5, -0.0125, 0.0, 1.0125, 0.0),
    _pnl(4, 5, 2, 100.0, -49.25, -0.01875, 0.5, 0.76875, 0.24375),
    _pnl(5, 6, 2, 99.0, -49.25, -0.01875, 0.5, 0.26875, 0.74375),
    _pnl(10, 7, 2, 101.0, -49.25, -0.01875, 0.5, 1.26875, 0.0),
    _pnl(12, 8, 0, 101.0, 1.0, 0.03125, 1.0, 0.96875, 0.3),
    _pnl(20, 9, 0, 101.0, 1.0, 0.03125, 1.0, 0.96875, 0.3, risk=1),
    _pnl(30, 10, 0, 101.0, 1.0, 0.03125, 1.0, 0.96875, 0.3),
]


def _order(t: float, seq: int, cid: str, event: str, side: int, price: int, qty: int,
           filled: int = 0, level: int = 0, reason: str = "") -> dict:  # fmt: skip
    return {
        "recv_ts": T0 + int(t * S), "seq": seq, "client_id": cid, "event": event, "side": side,
        "price": price, "qty": qty, "filled": filled, "level": level, "reason": reason,
    }  # fmt: skip


_O = [
    (0, "c1", "place", 1, 199, 4, 0, 0),
    (0, "c2", "place", -1, 201, 4, 0, 0),
    (0, "c3", "place", 1, 198, 4, 0, 1),
    (0, "c4", "place", -1, 202, 4, 0, 1),
    (0.1, "c1", "new", 1, 199, 4, 0, 0),
    (0.1, "c2", "new", -1, 201, 4, 0, 0),
    (0.1, "c3", "new", 1, 198, 4, 0, 1),
    (0.1, "c4", "new", -1, 202, 4, 0, 1),
    (2, "c1", "filled", 1, 199, 4, 4, 0),
    (4, "c2", "partially_filled", -1, 201, 4, 2, 0),
    (10, "c3", "cancel", 1, 198, 4, 0, 1),
    (10, "c4", "cancel", -1, 202, 4, 0, 1),
    (10, "c2", "amend", -1, 202, 4, 2, 0),
    (10, "c5", "place", 1, 198, 4, 0, 0),
    (10, "c7", "place", 1, 199, 4, 0, 0),
    (10.1, "c3", "canceled", 1, 198, 4, 0, 1),
    (10.1, "c4", "canceled", -1, 202, 4, 0, 1),
    (10.1, "c2", "amended", -1, 202, 4, 2, 0),
    (10.1, "c5", "new", 1, 198, 4, 0, 0),
    (10.1, "c7", "rejected", 1, 199, 4, 0, 0),
    (12, "c6", "place", -1, 201, 2, 0, -1),
    (12, "c6", "filled", -1, 201, 2, 2, -1),
    (20, "c2", "cancel", -1, 202, 4, 2, 0),
    (20, "c5", "cancel", 1, 198, 4, 0, 0),
    (20.1, "c2", "canceled", -1, 202, 4, 2, 0),
    (20.1, "c5", "canceled", 1, 198, 4, 0, 0),
]
ORDERS = [
    _order(t, i + 1, cid, ev, side, px, q, filled, lvl)
    for i, (t, cid, ev, side, px, q, filled, lvl) in enumerate(_O)
]

SUMMARY = {
    "instrument": f"{VENUE}:{SYMBOL}",
    "start": T0,
    "end": T0 + 30 * S,
    "net_pnl": 0.96875,
    "net_pnl_exact": "0.96875",
    "fees": 0.03125,
    "fills": 3,
    "maker_share": 2 / 3,
    "volume": 200.0,
    "orders_placed": 7,
    "cancels": 4,
    "cancel_ratio": 4 / 7,
    "markouts": {"1s": {"fills": 3, "avg_bps": 32.9}, "5s": {"fills": 3, "avg_bps": -9.9}},
    "book": {"resyncs": 0},
    "risk_state": "SAFE",
}


def write_run(
    root: Path,
    tables: dict[str, list[dict]] | None = None,
    summary: dict | None = None,
    spec: InstrumentSpec = SPEC,
) -> Path:
    """Write the run's tables (or ``tables``) into ``root`` in the hive layout."""
    tables = (
        tables
        if tables is not None
        else {"quotes": QUOTES, "orders": ORDERS, "fills": FILLS, "pnl": PNL}
    )
    root.mkdir(parents=True, exist_ok=True)
    write_instrument(root, spec)
    for name, rows in tables.items():
        if rows:
            write_rows(root, name, spec.venue, spec.symbol, frame(name, rows))
    (root / "summary.json").write_text(json.dumps(summary if summary is not None else SUMMARY))
    (root / "run.json").write_text(json.dumps({"source": "test"}))
    return root
