"""The order gateway against the fake Bybit (real HTTP, real signatures, fake clock)."""

from __future__ import annotations

import pytest
from bybit_helpers import FakeClock
from fake_bybit import FakeBybit

from connectors.bybit.config import BybitConfig
from connectors.bybit.errors import ErrorAction, action_of_reason
from connectors.bybit.execution import BybitGateway, make_run_tag
from connectors.bybit.instruments import BybitInstruments
from connectors.bybit.ratelimit import RateLimiter
from connectors.bybit.rest import BybitRest
from core.events import OrderStatus
from core.orders import ActionType, OrderAction

pytestmark = pytest.mark.venue
INST = "bybit:XRPUSDT"
TAG = "k2x9q1"
PREFIX = f"mm{TAG}-"


def gateway(cfg: BybitConfig, clock: FakeClock, **kw: object) -> BybitGateway:
    rest = BybitRest(cfg)
    specs = BybitInstruments(rest, ["XRPUSDT"]).load()
    return BybitGateway(rest, specs, run_tag=TAG, clock=clock, sleep=clock.sleep, **kw)  # type: ignore[arg-type]


def place(n: int, side: int = 1, price: int = 19000, qty: int = 10, **kw: object) -> OrderAction:
    return OrderAction(ActionType.PLACE, INST, f"{PREFIX}{n}", side, price, qty, **kw)  # type: ignore[arg-type]


def test_place_sends_exact_decimal_strings_postonly_and_client_id(
    fake: FakeBybit, fake_config: BybitConfig, clock: FakeClock
) -> None:
    gw = gateway(fake_config, clock)
    [u] = gw.execute([place(1, side=1, price=19500, qty=37)])
    assert u.status == OrderStatus.NEW and u.client_id == f"{PREFIX}1" and u.venue_order_id
    [body] = fake.calls("/v5/order/create")
    # 19500 ticks x 0.0001 = "1.9500"; 37 lots x 1 = "37"
    assert body == {
        "category": "linear", "symbol": "XRPUSDT", "orderLinkId": "mmk2x9q1-1", "side": "Buy",
        "orderType": "Limit", "qty": "37", "price": "1.9500", "timeInForce": "PostOnly",
        "positionIdx": 0, "reduceOnly": False,
    }  # fmt: skip
    o = fake.order_by_link(f"{PREFIX}1")
    assert o is not None and o.status == "New" and str(o.price) == "1.9500"
    # a taker order (post_only=False) is GTC
    gw.execute([place(2, side=-1, price=21000, qty=5, post_only=False)])
    assert fake.calls("/v5/order/create")[-1]["timeInForce"] == "GTC"


def test_amend_and_cancel_round_trip(
    fake: FakeBybit, fake_config: BybitConfig, clock: FakeClock
) -> None:
    gw = gateway(fake_config, clock)
    gw.execute([place(1)])
    [a] = gw.execute([OrderAction(ActionType.AMEND, INST, f"{PREFIX}1", 1, 19001, 12)])
    assert (a.status, a.price, a.qty) == (OrderStatus.AMENDED, 19001, 12)
    assert fake.calls("/v5/order/amend")[-1] | {} == {
        "category": "linear",
        "symbol": "XRPUSDT",
        "orderLinkId": f"{PREFIX}1",
        "price": "1.9001",
        "qty": "12",
    }
    [c] = gw.execute([OrderAction(ActionType.CANCEL, INST, f"{PREFIX}1", 1, 19001, 12)])
    assert c.status == OrderStatus.CANCELED
    assert fake.open_orders() == []
    # cancelling it again: the venue says 110001, the manager is told "order not found"
    [again] = gw.execute([OrderAction(ActionType.CANCEL, INST, f"{PREFIX}1", 1, 19001, 12)])
    assert again.status == OrderStatus.REJECTED and "order not found" in again.reason
    assert action_of_reason(again.reason) == ErrorAction.RECONCILE and not gw.halted


def test_batches_are_split_to_venue_size_and_rate_budget(
    fake: FakeBybit, fake_config: BybitConfig, clock: FakeClock
) -> None:
    fake.limits["create"] = 20
    limiter = RateLimiter({"create": 20, "cancel": 10, "query": 50}, clock=clock, sleep=clock.sleep)
    gw = gateway(fake_config, clock, limiter=limiter)
    actions = [
        place(i, side=1 if i % 2 else -1, price=19000 if i % 2 else 21000) for i in range(45)
    ]
    updates = gw.execute(actions)
    assert [u.client_id for u in updates] == [a.client_id for a in actions]
    assert all(u.status == OrderStatus.NEW for u in updates)
    sizes = [len(b["request"]) for b in fake.calls("/v5/order/create-batch")]
    assert sizes == [20, 20, 5]  # linear batch max 20
    # 20 tokens at 20/s: the second batch waits 1 s, the third 0.25 s (5 tokens)
    assert clock.sleeps == [pytest.approx(1.0), pytest.approx(0.25)]
    assert len(fake.open_orders()) == 45
    # the default budget (10/s) caps a batch at 10 orders
    gw2 = gateway(fake_config, clock)
    gw2.execute([OrderAction(ActionType.CANCEL, INST, a.client_id) for a in actions[:25]])
    assert [len(b["request"]) for b in fake.calls("/v5/order/cancel-batch")] == [10, 10, 5]


def test_cancels_go_before_amends_and_places(
    fake: FakeBybit, fake_config: BybitConfig, clock: FakeClock
) -> None:
    gw = gateway(fake_config, clock)
    gw.execute([place(1), place(2)])
    fake.rest_calls.clear()
    gw.execute([place(3), OrderAction(ActionType.AMEND, INST, f"{PREFIX}2", 1, 19002, 10),
                OrderAction(ActionType.CANCEL, INST, f"{PREFIX}1")])  # fmt: skip
    assert [p for _, p, _ in fake.rest_calls] == [
        "/v5/order/cancel",
        "/v5/order/amend",
        "/v5/order/create",
    ]


def test_rate_limited_call_waits_for_reset_then_succeeds(
    fake: FakeBybit, fake_config: BybitConfig, clock: FakeClock
) -> None:
    gw = gateway(fake_config, clock)
    reset_ms = int(clock() * 1000) + 800
    fake.rate_limit_next(1, reset_ts_ms=reset_ms)
    [u] = gw.execute([place(1)])
    assert u.status == OrderStatus.NEW
    assert len(fake.calls("/v5/order/create")) == 2  # one 10006, then accepted
    # waited exactly until the reset header's time (the clock's sub-ms part aside)
    assert sum(clock.sleeps) == pytest.approx(0.8, abs=2e-3)
    assert clock() >= reset_ms / 1000
    assert [o.link_id for o in fake.open_orders()] == [f"{PREFIX}1"]  # nothing lost, no duplicate
    # repeated 10006 keep backing off, then the order still goes through once
    fake.rate_limit_next(3, reset_in_ms=300)
    [u2] = gw.execute([place(2)])
    assert u2.status == OrderStatus.NEW and len(fake.calls("/v5/order/create")) == 6
    assert len(fake.open_orders()) == 2


def test_rate_limited_batch_loses_no_action(
    fake: FakeBybit, fake_config: BybitConfig, clock: FakeClock
) -> None:
    gw = gateway(fake_config, clock)
    fake.rate_limit_next(1, reset_ts_ms=int(clock() * 1000) + 500)
    updates = gw.execute([place(i) for i in range(5)])
    assert [u.status for u in updates] == [OrderStatus.NEW] * 5
    assert sorted(o.link_id for o in fake.open_orders()) == sorted(f"{PREFIX}{i}" for i in range(5))


def test_venue_rejection_surfaces_as_rejected_update(
    fake: FakeBybit, fake_config: BybitConfig, clock: FakeClock
) -> None:
    gw = gateway(fake_config, clock)
    fake.reject_next(110007, "Available balance is insufficient")
    [u] = gw.execute([place(1)])
    assert u.status == OrderStatus.REJECTED and u.client_id == f"{PREFIX}1"
    assert action_of_reason(u.reason) == ErrorAction.REDUCE and "110007" in u.reason
    assert fake.open_orders() == [] and not gw.halted
    # a rule the venue enforces itself: notional 3 lots x 1.9 USDT < 5 USDT minimum
    [small] = gw.execute([place(2, qty=2)])
    assert small.status == OrderStatus.REJECTED and "110094" in small.reason


def test_halt_stops_new_orders_but_not_cancels(
    fake: FakeBybit, fake_config: BybitConfig, clock: FakeClock
) -> None:
    gw = gateway(fake_config, clock)
    gw.execute([place(1)])
    fake.reject_next(
        10005, "Permission denied, please check your API key permissions.", "/v5/order/create"
    )
    [u] = gw.execute([place(2)])
    assert action_of_reason(u.reason) == ErrorAction.HALT and gw.halted
    n = len(fake.rest_calls)
    [refused] = gw.execute([place(3)])
    assert refused.status == OrderStatus.REJECTED and refused.reason.startswith("halt:")
    assert len(fake.rest_calls) == n  # refused locally: nothing sent
    [c] = gw.execute([OrderAction(ActionType.CANCEL, INST, f"{PREFIX}1")])
    assert c.status == OrderStatus.CANCELED


def test_wrong_secret_halts_on_signature_error(
    fake: FakeBybit, fake_config: BybitConfig, clock: FakeClock
) -> None:
    cfg = fake_config.model_copy(
        update={"api_secret": type(fake_config.api_secret)("not-the-secret")}
    )
    gw = gateway(cfg, clock)
    [u] = gw.execute([place(1)])
    assert "10004" in u.reason and gw.halted


def test_duplicate_client_id_is_looked_up_not_rejected(
    fake: FakeBybit, fake_config: BybitConfig, clock: FakeClock
) -> None:
    gw = gateway(fake_config, clock)
    [first] = gw.execute([place(1)])
    [again] = gw.execute([place(1)])  # a resend after a lost answer
    assert again.status == OrderStatus.NEW and again.venue_order_id == first.venue_order_id
    assert len(fake.open_orders()) == 1


def test_invalid_actions_are_refused_locally(
    fake: FakeBybit, fake_config: BybitConfig, clock: FakeClock
) -> None:
    gw = gateway(fake_config, clock)
    bad = [
        OrderAction(ActionType.PLACE, INST, PREFIX + "x" * 28, 1, 19000, 10),  # 37 chars
        OrderAction(ActionType.PLACE, INST, f"{PREFIX}has space", 1, 19000, 10),
        OrderAction(ActionType.PLACE, "bybit:NOPE", f"{PREFIX}9", 1, 19000, 10),
        place(8, qty=0),
        OrderAction(ActionType.PLACE, INST, "mmotherrun-1", 1, 19000, 10),  # not this run's
    ]
    updates = gw.execute(bad)
    assert [u.status for u in updates] == [OrderStatus.REJECTED] * 5
    assert "lacks this run's prefix 'mmk2x9q1-'" in updates[-1].reason
    assert fake.calls("/v5/order/create") == [] and fake.calls("/v5/order/create-batch") == []


def test_startup_sets_dcp_and_cancels_only_old_runs_leftovers(
    fake: FakeBybit, fake_config: BybitConfig, clock: FakeClock
) -> None:
    fake.seed_order("mmoldrun-1", "Buy", "1.9000", "10")
    fake.seed_order("mmoldrun-2", "Sell", "2.1000", "10")
    fake.seed_order("manual-order", "Buy", "1.8000", "10")
    fake.seed_order("mmx", "Buy", "1.8000", "10")  # our letters, not our id shape
    for i in range(60):  # more than one page of open orders (50 per page)
        fake.seed_order(f"other-{i}", "Buy", "1.7000", "10")
    gw = gateway(fake_config, clock)
    report = gw.start([INST], dcp_window_s=fake_config.dcp_window_s)
    assert fake.dcp == {"DERIVATIVES": 10}
    assert sorted(report.cancelled) == ["mmoldrun-1", "mmoldrun-2"]
    assert (
        "manual-order" in report.foreign and "mmx" in report.foreign and len(report.foreign) == 62
    )
    assert sorted(o.link_id for o in fake.open_orders() if o.link_id.startswith("mm")) == ["mmx"]
    assert report.positions[INST].qty == 0
    assert len(fake.calls("/v5/order/realtime")) == 2  # paged


def test_cancel_all_and_confirm(
    fake: FakeBybit, fake_config: BybitConfig, clock: FakeClock
) -> None:
    gw = gateway(fake_config, clock)
    gw.execute([place(i) for i in range(3)])
    assert gw.cancel_all_and_confirm(timeout_s=2.0) is True
    assert fake.open_orders() == []
    # a venue that accepts cancels but does not act on them: give up at the timeout
    gw.execute([place(10)])
    fake.freeze_cancels = True
    t0 = clock()
    assert gw.cancel_all_and_confirm(timeout_s=2.0, poll_s=0.5) is False
    assert clock() - t0 == pytest.approx(2.0)
    assert len(fake.open_orders()) == 1


def test_run_tags_are_short_and_distinct() -> None:
    a, b = make_run_tag(1_700_000_000_000_000_000), make_run_tag(1_700_000_000_001_000_000)
    assert len(a) == 8 and a != b and a.isalnum()
    assert len(f"mm{a}-{10**9}") <= 36
