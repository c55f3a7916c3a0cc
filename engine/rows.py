"""Run-table rows and log events as the compiled loop writes them, and their Python form.

The kernel writes fixed-layout records (numbers only); :func:`to_output` turns a call's
records into the reference Trader's ``TraderOutput`` (row tuples in the run tables'
column order, log dicts), rendering client ids, execution ids and reasons as text.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from core.events import OrderStatus
from core.orders import ActionType
from core.reasons import reason_fields, record_reason

QUOTE_ROW = np.dtype(
    [
        ("recv_ts", np.int64),
        ("seq", np.int64),
        ("side", np.int64),
        ("level", np.int64),
        ("price", np.int64),
        ("qty", np.int64),
        ("price_f", np.float64),
        ("qty_f", np.float64),
        ("mid", np.float64),
        ("reservation", np.float64),
        ("half_spread_bps", np.float64),
        ("vol_bps", np.float64),
        ("regime", np.int64),
        ("signal", np.int64),
        ("toxicity", np.float64),
        ("risk_state", np.int64),
    ]
)

# orders.event: an action type (1-4), 10 + an OrderStatus, or a pre-trade rejection
EV_REJECTED_PRETRADE = 20
ORDER_EVENTS: dict[int, str] = {int(t): t.name.lower() for t in ActionType}
ORDER_EVENTS.update({10 + int(s): s.name.lower() for s in OrderStatus})
ORDER_EVENTS[EV_REJECTED_PRETRADE] = "rejected_pretrade"

ORDER_ROW = np.dtype(
    [
        ("recv_ts", np.int64),
        ("seq", np.int64),
        ("cid", np.int64),  # -1: no client id ("")
        ("event", np.int64),
        ("side", np.int64),
        ("price", np.int64),
        ("qty", np.int64),
        ("filled", np.int64),
        ("level", np.int64),
        *reason_fields("r_"),
    ]
)

FILL_ROW = np.dtype(
    [
        ("recv_ts", np.int64),
        ("exch_ts", np.int64),
        ("seq", np.int64),
        ("cid", np.int64),
        ("exec_no", np.int64),  # sim execution number ("sim-x{n}"), or -1
        ("exec_tok", np.int64),  # live: the venue's execution id (string table), or -1
        ("side", np.int64),
        ("level", np.int64),
        ("price", np.int64),
        ("qty", np.int64),
        ("price_f", np.float64),
        ("qty_f", np.float64),
        ("notional", np.float64),
        ("fee", np.float64),
        ("fee_units", np.int64),
        ("is_maker", np.bool_),
        ("position_after", np.int64),
        ("mid_at_fill", np.float64),
        ("mid_1s", np.float64),
        ("mid_5s", np.float64),
        ("mid_30s", np.float64),
        ("mid_60s", np.float64),
    ]
)

PNL_ROW = np.dtype(
    [
        ("recv_ts", np.int64),
        ("seq", np.int64),
        ("position", np.int64),
        ("position_f", np.float64),
        ("mid", np.float64),
        ("cash", np.float64),
        ("realized", np.float64),
        ("unrealized", np.float64),
        ("fees", np.float64),
        ("total", np.float64),
        ("inventory_usd", np.float64),
        ("drawdown", np.float64),
        ("risk_state", np.int64),
    ]
)

# log events
LOG_RISK_STATE = 1  # i0 from, i1 to, reason
LOG_FILL = 2  # i0 side, i1 price, i2 qty, i3 position, b0 maker
LOG_QUOTES = 3  # i0 quote seq (its rows), i1 risk state
LOG_BOOK_STALE = 4  # reason (the sync's)
LOG_KILL_SWITCH = 5  # reason (the risk manager's)
LOG_LAGGING = 6  # b0 lagging (else lag ok again), i0 lag ns
LOG_RESYNC = 7  # i0 attempt, i1 time, reason (the book's)

LOG_ROW = np.dtype(
    [
        ("kind", np.int64),
        ("i0", np.int64),
        ("i1", np.int64),
        ("i2", np.int64),
        ("i3", np.int64),
        ("b0", np.bool_),
        *reason_fields("r_"),
    ]
)


def order_tuples(
    rows: np.ndarray, cid_text: Callable[[int], str], strings: list[str]
) -> list[tuple]:
    out = []
    for r in rows:
        out.append(
            (
                int(r["recv_ts"]),
                int(r["seq"]),
                cid_text(int(r["cid"])),
                ORDER_EVENTS[int(r["event"])],
                int(r["side"]),
                int(r["price"]),
                int(r["qty"]),
                int(r["filled"]),
                int(r["level"]),
                record_reason(r, "r_", strings),
            )
        )
    return out


def fill_tuples(
    rows: np.ndarray, cid_text: Callable[[int], str], strings: list[str]
) -> list[tuple]:
    out = []
    for r in rows.tolist():
        (recv, exch, seq, cid, exec_no, exec_tok, *rest) = r
        exec_id = (
            f"sim-x{exec_no}" if exec_no >= 0 else (strings[exec_tok] if exec_tok >= 0 else "")
        )
        out.append((recv, exch, seq, cid_text(cid), exec_id, *rest))
    return out


def nan_to_none(x: float) -> float | None:
    return None if math.isnan(x) else x
