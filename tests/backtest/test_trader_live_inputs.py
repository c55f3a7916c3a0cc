"""The trader's live inputs (no venue bound): timer, kill switch, stale book, private resets."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from bt_helpers import MS, SPEC, T0, book_msg

from core.events import EVENT_DTYPE, Fill, OrderStatus, OrderUpdate, Tick
from core.orders import ActionType
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


def trader(**risk: object) -> Trader:
    p = StrategyParams()
    q = p.quote.model_copy(
        update={
            "use_regimes": False,
            "order_size_usd": 1000.0,
            "warmup_vol_bps": 0.0,
            "base_spread_bps": 20.0,
        }
    )
    r = p.risk.model_copy(update={"max_position_usd": 5000.0, **risk})
    return make_trader(
        SPEC, p.model_copy(update={"quote": q, "risk": r}), venue=None, run_tag="t", log_quotes=True
    )


def start(t: Trader) -> list:
    out = t.on_market(events(book_msg(T0, 1, 1, [(1, 10000, 50), (-1, 10010, 50)], 1)))
    for a in out.actions:  # the venue acks both places
        t.on_item(
            OrderUpdate(
                t.inst, a.client_id, OrderStatus.NEW, a.side, a.price, a.qty, 0, T0, T0 + MS
            )
        )
    return out.actions


def test_quotes_go_out_as_actions_and_logs_without_a_venue() -> None:
    t = trader()
    acts = start(t)
    assert sorted((a.type, a.side, a.price, a.qty) for a in acts) == [
        (ActionType.PLACE, -1, 10016, 9),
        (ActionType.PLACE, 1, 9994, 10),
    ]
    assert all(a.client_id.startswith("mmt-") for a in acts)


def test_kill_file_trips_the_kill_switch_on_the_next_tick(tmp_path: Path) -> None:
    kill = tmp_path / "KILL"
    t = trader(kill_file=str(kill))
    start(t)
    out = t.on_item(Tick(T0 + 1_000 * MS))
    assert out.actions == [] and t.risk.state == RiskState.SAFE
    kill.touch()
    out = t.on_item(Tick(T0 + 2_000 * MS))
    assert sorted(a.type for a in out.actions) == [ActionType.CANCEL, ActionType.CANCEL]
    assert t.risk.state == RiskState.CIRCUIT_BREAK and t.risk.killed
    assert any(log["event"] == "kill_switch" for log in out.logs)


def test_stale_book_pulls_quotes() -> None:
    t = trader(stale_book_ms=3000.0)
    start(t)
    assert t.on_item(Tick(T0 + 3_000 * MS)).actions == []  # 3 s old: not yet stale
    out = t.on_item(Tick(T0 + 3_001 * MS))
    assert sorted(a.type for a in out.actions) == [ActionType.CANCEL, ActionType.CANCEL]
    assert not t.sync.usable and "stale book" in t.sync.reason


def test_position_update_books_missed_fills_at_mark() -> None:
    from connectors.bybit.records import PositionUpdate

    t = trader()
    start(t)
    t.on_item(Fill(t.inst, "mmt-1", 1, 9994, 4, 0, True, T0 + 5 * MS, T0 + 6 * MS))
    assert t.inventory.position == 4
    pos = PositionUpdate(
        t.inst, 7, Decimal("99.95"), Decimal("100.02"), Decimal(0), Decimal(0), T0, T0 + 7 * MS
    )
    out = t.on_item(pos)
    assert t.inventory.position == 7  # 3 missed lots booked at the mark 100.02
    assert next(lg for lg in out.logs if lg["event"] == "position_reconciled")["booked_lots"] == 3
    assert t.inventory.cash == -(9994 * 4) - 10002 * 3


def test_private_reset_cancels_all_and_forgets_local_orders() -> None:
    from connectors.bybit.records import PrivateReset

    t = trader()
    start(t)
    out = t.on_item(PrivateReset(t.inst, "reconnected", T0 + 10 * MS))
    assert [a.type for a in out.actions] == [ActionType.CANCEL_ALL]
    assert t.orders.orders == {}
    # the next market message quotes afresh with new client ids
    out = t.on_market(events(book_msg(T0 + 20 * MS, 2, 2, [(1, 10000, 40)], 2)))
    assert sorted(a.client_id for a in out.actions) == ["mmt-3", "mmt-4"]


def test_seed_position_starts_from_the_venue() -> None:
    t = trader()
    t.seed_position(-5, Decimal("100.03"))
    assert t.inventory.position == -5 and t.inventory.avg_entry == 10003
