"""Record layouts the compiled kernels exchange: order actions and venue responses.

The compiled counterparts of :class:`core.orders.OrderAction` and of
:class:`core.events.OrderUpdate` / :class:`core.events.Fill`. Client order ids are the
order manager's integer counter (``cid``); the edge renders ``{prefix}{run}-{cid}``.
Reasons are carried as numbers (:mod:`core.reasons`) in ``r_``-prefixed fields.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from core.reasons import reason_fields

ACTION_DTYPE = np.dtype(
    [
        ("type", np.int8),  # core.orders.ActionType
        ("cid", np.int64),  # client id number (-1: none, e.g. CANCEL_ALL)
        ("side", np.int8),
        ("price", np.int64),  # ticks
        ("qty", np.int64),  # lots
        ("post_only", np.bool_),
        ("reduce_only", np.bool_),
        ("level", np.int64),  # quote level of a PLACE (-1: not a quote, e.g. flatten)
        ("bad_inst", np.bool_),  # sent for another instrument (the sim rejects it)
        *reason_fields("r_"),
    ]
)

RESPONSE_DTYPE = np.dtype(
    [
        ("is_fill", np.bool_),
        ("cid", np.int64),
        ("status", np.int8),  # core.events.OrderStatus (updates only)
        ("side", np.int8),
        ("price", np.int64),  # ticks
        ("qty", np.int64),  # lots: fill qty, or the order's current total qty
        ("filled", np.int64),  # cumulative (updates)
        ("fee", np.int64),  # fee units (fills)
        ("is_maker", np.bool_),
        ("exch_ts", np.int64),
        ("recv_ts", np.int64),
        ("venue_no", np.int64),  # sim: venue order id "sim-{venue_no}"
        ("exec_no", np.int64),  # sim: execution id "sim-x{exec_no}"
        *reason_fields("r_"),
        # what the order manager reads from a reject's text (the reference tests substrings):
        # "post-only" in reason (sim: SIM_CROSS) and "not found" in reason (SIM_NOT_FOUND);
        # set by whoever makes the record (operators.orders.kernel.reason_says)
        ("says_post_only", np.bool_),
        ("says_not_found", np.bool_),
    ]
)

# a pre-trade rejection: the refused action (its own reason in r_) and why (x_)
REJECTION_DTYPE = np.dtype(ACTION_DTYPE.descr + reason_fields("x_"))


@njit(cache=True, inline="always", _nrt=False)
def clear_reason(x):  # type: ignore[no-untyped-def]
    """No reason in ``x``'s ``r_`` fields (any record of these layouts, or a run-table row)."""
    x.r_code = 0
    x.r_sub = 0
    x.r_i0 = 0
    x.r_i1 = 0
    x.r_f0 = 0.0
    x.r_f1 = 0.0
    x.r_f2 = 0.0
    x.r_tok = -1


@njit(cache=True, inline="always", _nrt=False)
def copy_reason(dst, src):  # type: ignore[no-untyped-def]
    """``src``'s ``r_`` reason into ``dst``'s."""
    dst.r_code = src.r_code
    dst.r_sub = src.r_sub
    dst.r_i0 = src.r_i0
    dst.r_i1 = src.r_i1
    dst.r_f0 = src.r_f0
    dst.r_f1 = src.r_f1
    dst.r_f2 = src.r_f2
    dst.r_tok = src.r_tok


def empty_actions(n: int) -> np.ndarray:
    return np.zeros(n, dtype=ACTION_DTYPE)


def empty_responses(n: int) -> np.ndarray:
    return np.zeros(n, dtype=RESPONSE_DTYPE)


def empty_rejections(n: int) -> np.ndarray:
    return np.zeros(n, dtype=REJECTION_DTYPE)
