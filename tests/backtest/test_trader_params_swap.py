"""Hot reload inside the trader: ``swap_params`` between messages, state kept (both engines)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from bt_helpers import MS, SPEC, T0, book_msg

from core.events import EVENT_DTYPE, OrderStatus, OrderUpdate, Tick
from core.orders import ActionType, OrderAction
from core.params import StrategyParams
from engine.select import make_trader
from operators.risk.manager import RiskState
from operators.trader import Trader

pytestmark = pytest.mark.usefixtures("both_engines")


def events(rows: list[tuple]) -> np.ndarray:
    ev = np.zeros(len(rows), dtype=EVENT_DTYPE)
    for i, r in enumerate(rows):  # book_deltas row order -> EVENT_DTYPE fields
        recv, exch, ord_, seq, prev, first, kind, side, price, qty, flags = r
        ev[i] = (kind, side, flags, exch, recv, price, qty, seq, prev, first, ord_)
    return ev


def params(risk: dict[str, Any] | None = None, orders: dict[str, Any] | None = None,
           **quote: Any) -> StrategyParams:  # fmt: skip
    p = StrategyParams()
    q = p.quote.model_copy(update={"use_regimes": False, "order_size_usd": 1000.0,
                                   "warmup_vol_bps": 0.0, "base_spread_bps": 20.0, **quote})  # fmt: skip
    r = p.risk.model_copy(update={"max_position_usd": 5000.0, **(risk or {})})
    o = p.orders.model_copy(update={"max_order_usd": 5000.0, **(orders or {})})
    return p.model_copy(update={"quote": q, "risk": r, "orders": o})


def ack(t: Trader, acts: list[OrderAction], ts: int) -> None:
    for a in acts:
        t.on_item(OrderUpdate(t.inst, a.client_id, OrderStatus.NEW, a.side, a.price, a.qty, 0,
                              ts, ts + MS))  # fmt: skip


def started(p: StrategyParams) -> Trader:
    """A trader quoting one level a side at 100.00 / 100.10, both orders acknowledged."""
    t = make_trader(SPEC, p, venue=None, run_tag="t", log_quotes=True)
    out = t.on_market(events(book_msg(T0, 1, 1, [(1, 10000, 50), (-1, 10010, 50)], 1)))
    assert [(a.type, a.client_id, a.price, a.qty) for a in out.actions] == [
        (ActionType.PLACE, "mmt-1", 9994, 10),
        (ActionType.PLACE, "mmt-2", 10016, 9),
    ]
    ack(t, out.actions, T0)
    return t


def moves(acts: list[OrderAction]) -> list[tuple]:
    return [(a.type, a.client_id, a.side, a.price, a.qty) for a in acts]


def test_new_spread_and_size_amend_the_resting_orders_at_the_next_tick() -> None:
    t = started(params())
    t.swap_params(params(order_size_usd=2000.0, base_spread_bps=40.0))
    out = t.on_item(Tick(T0 + 1000 * MS))
    # 40 bps of mid 100.05 either side, twice the size; the same orders, amended
    assert moves(out.actions) == [
        (ActionType.AMEND, "mmt-1", 1, 9984, 20),
        (ActionType.AMEND, "mmt-2", -1, 10026, 19),
    ]
    assert [q for q in out.logs if q["event"] == "quotes"] == [
        {"event": "quotes", "inst": t.inst, "bids": "99.84x20", "asks": "100.26x19", "risk": "SAFE"}
    ]
    assert t.params.quote.base_spread_bps == 40.0
    assert t.orders.live_count() == 2 and t.risk.state == RiskState.SAFE


def test_more_levels_place_the_difference_and_fewer_cancel_it() -> None:
    t = started(params())
    t.swap_params(params(levels=2))
    out = t.on_item(Tick(T0 + 1000 * MS))
    assert moves(out.actions) == [
        (ActionType.PLACE, "mmt-3", 1, 9993, 10),
        (ActionType.PLACE, "mmt-4", -1, 10017, 9),
    ]
    ack(t, out.actions, T0 + 1000 * MS)
    t.swap_params(params(levels=1))
    out = t.on_item(Tick(T0 + 2000 * MS))
    assert sorted(moves(out.actions)) == [
        (ActionType.CANCEL, "mmt-3", 1, 9993, 10),
        (ActionType.CANCEL, "mmt-4", -1, 10017, 9),
    ]


def test_a_larger_burst_is_no_refill_of_the_token_bucket() -> None:
    # 2 of 8 tokens went on the first quotes; at the same instant (no refill) a burst of 20
    # still holds 6 tokens: of the 8 new levels the 6 nearest the touch go out
    t = started(params(orders={"rate_limit_per_s": 0.001}))
    t.swap_params(params(levels=5, orders={"rate_limit_per_s": 0.001, "rate_burst": 20}))
    out = t.on_item(Tick(T0 + 2 * MS))
    assert sorted((a.side, a.price) for a in out.actions) == [
        (-1, 10017), (-1, 10018), (-1, 10019), (1, 9991), (1, 9992), (1, 9993)
    ]  # fmt: skip
    assert all(a.type == ActionType.PLACE for a in out.actions)


def test_a_new_kill_file_applies_at_the_next_tick(tmp_path: Path) -> None:
    kill = tmp_path / "KILL"
    kill.touch()
    t = started(params())
    t.seed_position(30, "100.00")
    t.on_item(Tick(T0 + 1000 * MS))
    assert not t.risk.killed
    t.swap_params(params(risk={"kill_file": str(kill)}))
    out = t.on_item(Tick(T0 + 2000 * MS))
    assert sorted(a.type for a in out.actions) == [ActionType.CANCEL, ActionType.CANCEL]
    assert t.risk.killed
    assert t.inventory.position == 30  # the state stays through the swap
