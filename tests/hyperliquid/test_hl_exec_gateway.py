"""The Hyperliquid gateway against the fake exchange (signed bodies verified there)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from fake_exchange import FakeExchange
from hl_exec_helpers import (
    ACCOUNT,
    AGENT,
    COINS,
    INST,
    STRANGER_KEY,
    TAG,
    FakeClockMs,
    InProcessApi,
    book,
    secret,
    specs,
    trade,
)

from connectors.hyperliquid.execution import HyperliquidGateway
from connectors.hyperliquid.heartbeat import DeadMansSwitch
from connectors.hyperliquid.ratelimit import HyperliquidLimiter
from connectors.hyperliquid.signing import ClientIds, Signer
from core.errors import ConfigError
from core.events import OrderStatus
from core.orders import ActionType, OrderAction

PREFIX = f"mm{TAG}-"


@pytest.fixture
def clock() -> FakeClockMs:
    return FakeClockMs()


@pytest.fixture
def fake(clock: FakeClockMs) -> FakeExchange:
    f = FakeExchange(ACCOUNT, AGENT, COINS, clock_ms=clock.ms)
    f.on_market("ETH", book("3000.1", "3000.5"), [], clock.ms())
    return f


def gateway(fake: FakeExchange, clock: FakeClockMs, key: str | None = None,
            tag: str = TAG, prefix: str = "mm") -> HyperliquidGateway:  # fmt: skip
    api = InProcessApi(fake, limiter=HyperliquidLimiter(clock, clock.sleep))
    signer = Signer(secret(key) if key else secret(), is_mainnet=False)
    return HyperliquidGateway(api, signer, specs(), ACCOUNT, run_tag=tag, clock=clock,
                              sleep=clock.sleep, client_id_prefix=prefix)  # fmt: skip


def place(n: int, side: int = 1, price: int = 299_950, qty: int = 100, tag: str = TAG,
          **kw: object) -> OrderAction:  # fmt: skip
    return OrderAction(ActionType.PLACE, INST, f"mm{tag}-{n}", side, price, qty, **kw)  # type: ignore[arg-type]


def test_place_amend_cancel_round_trip_with_exact_wire(
    fake: FakeExchange, clock: FakeClockMs
) -> None:
    gw = gateway(fake, clock)
    # 2999.567 asked for as ticks of 0.01: 5 significant figures -> bid 2999.5
    u1, u2 = gw.execute([place(1, 1, 299_956, 37), place(2, -1, 300_123, 50)])
    assert (u1.status, u1.price, u1.qty) == (OrderStatus.NEW, 299_950, 37)
    assert (u2.status, u2.price) == (OrderStatus.NEW, 300_130)  # ask 3001.23 -> 3001.3 (up)
    [sent] = fake.actions
    cloid = ClientIds("mm", TAG).cloid(f"{PREFIX}1")
    assert sent["type"] == "order" and sent["grouping"] == "na"
    assert sent["orders"][0] == {"a": 1, "b": True, "p": "2999.5", "s": "0.0037", "r": False,
                                 "t": {"limit": {"tif": "Alo"}}, "c": cloid}  # fmt: skip
    resting = {o.cloid: o for o in fake.orders.values()}
    assert resting[cloid].px == Decimal("2999.5") and u1.venue_order_id == str(resting[cloid].oid)
    # amend = cancel-replace at the venue: a new oid, same cloid
    [a] = gw.execute([OrderAction(ActionType.AMEND, INST, f"{PREFIX}1", 1, 299_900, 0)])
    assert (a.status, a.price, a.qty) == (OrderStatus.AMENDED, 299_900, 37)
    assert fake.actions[-1]["type"] == "batchModify"
    new = next(o for o in fake.orders.values() if o.cloid == cloid)
    assert str(new.oid) == a.venue_order_id != u1.venue_order_id and new.px == Decimal("2999")
    [c] = gw.execute([OrderAction(ActionType.CANCEL, INST, f"{PREFIX}1")])
    assert c.status == OrderStatus.CANCELED and fake.actions[-1]["type"] == "cancelByCloid"
    assert [o.cloid for o in fake.orders.values()] == [ClientIds("mm", TAG).cloid(f"{PREFIX}2")]
    [again] = gw.execute([OrderAction(ActionType.CANCEL, INST, f"{PREFIX}1")])
    assert again.status == OrderStatus.REJECTED and "not found" in again.reason
    # a resent place (its first copy got through) finds the order instead of failing
    [dup] = gw.execute([place(2, -1, 300_123, 50)])
    assert (dup.status, dup.venue_order_id) == (OrderStatus.NEW, u2.venue_order_id)
    assert len(fake.orders) == 1


def test_crossing_alo_is_rejected_post_only_with_the_current_touch(
    fake: FakeExchange, clock: FakeClockMs
) -> None:
    gw = gateway(fake, clock)
    [u] = gw.execute([place(1, 1, 300_050)])  # bid at the ask 3000.5
    assert u.status == OrderStatus.REJECTED and u.reason.startswith("post-only")
    assert "bbo was 3000.1@3000.5" in u.reason and not fake.orders and not gw.halted
    # an amend that would cross: refused, and the original is cancelled too
    gw.execute([place(2, 1, 299_000)])
    [a] = gw.execute([OrderAction(ActionType.AMEND, INST, f"{PREFIX}2", 1, 300_100, 0)])
    assert a.status == OrderStatus.REJECTED and "post-only" in a.reason
    assert not fake.orders and f"{PREFIX}2" not in gw.orders


def test_fills_move_position_and_pnl_exactly_as_the_venue_books_them(
    fake: FakeExchange, clock: FakeClockMs
) -> None:
    gw = gateway(fake, clock)
    gw.execute([place(1, 1, 299_950, 500), place(2, -1, 300_300, 300)])
    # a selling taker hits 0.02 of our 0.05 bid, then the book trades through our ask
    fake.on_market("ETH", None, [trade("A", "2999.5", "0.02")], clock.ms())
    fake.on_market("ETH", book("3003.1", "3003.4"), [], clock.ms())
    led = fake.ledgers["ETH"]
    assert [f["sz"] for f in fake.fills] == ["0.02", "0.03"]
    assert led.szi == Decimal("-0.01") and led.realized == Decimal("0.02") * Decimal("3.5")
    assert led.fees == (Decimal("2999.5") * Decimal("0.02") + Decimal("3003") * Decimal("0.03")) * Decimal("0.00015")  # fmt: skip
    pos = gw.position(INST)
    assert pos.qty == -100 and pos.entry_price == Decimal("3003")
    assert [o.sz for o in fake.orders.values()] == [Decimal("0.03")]  # the bid's remainder


def test_start_up_cancels_earlier_runs_and_leaves_other_orders(
    fake: FakeExchange, clock: FakeClockMs
) -> None:
    old = gateway(fake, clock, tag="k2x9q0")
    old.execute([place(7, 1, 299_000, tag="k2x9q0")])
    stranger = gateway(fake, clock, tag="zz", prefix="other")  # another bot, same account
    [s] = stranger.execute([OrderAction(ActionType.PLACE, INST, "otherzz-1", -1, 301_000, 100)])
    assert s.status == OrderStatus.NEW
    gw = gateway(fake, clock)
    report = gw.start([INST])
    # the address budget starts from the venue's count (2 places of the others), then
    # the leftover's cancel spends one more
    assert gw.limiter.headroom()["address_requests"] == 10_000 - 2 - 1
    assert len(report.cancelled) == 1 and len(report.foreign) == 1 and report.own == []
    assert [o.cloid for o in fake.orders.values()] == [ClientIds("other", "zz").cloid("otherzz-1")]
    assert report.positions[INST].qty == 0


def test_bad_signatures_are_refused_and_halt_the_gateway(
    fake: FakeExchange, clock: FakeClockMs
) -> None:
    gw = gateway(fake, clock, key=STRANGER_KEY)
    [u] = gw.execute([place(1)])
    assert u.status == OrderStatus.REJECTED and u.reason.startswith("halt: unknown user")
    assert not fake.orders and "does not exist" in fake.refused[-1] and gw.halted
    # a good signature over a different action (a tampered body) recovers someone else
    good = Signer(secret(), is_mainnet=False)
    body = good.payload({"type": "scheduleCancel", "time": clock.ms() + 10_000})
    body["action"]["time"] += 1
    assert fake.exchange(body)[1]["status"] == "err" and AGENT.lower() not in fake.refused[-1]
    # mainnet and testnet signatures differ (the phantom agent's source)
    main = Signer(secret(), is_mainnet=True)
    assert fake.exchange(main.payload({"type": "scheduleCancel"}))[1]["status"] == "err"
    assert fake.exchange(good.payload({"type": "scheduleCancel"}))[1]["status"] == "ok"


def test_rate_limits_are_waited_out_and_resent(fake: FakeExchange, clock: FakeClockMs) -> None:
    gw = gateway(fake, clock)
    fake.rate_limit_next("ip")
    fake.rate_limit_next("address")
    t0 = clock.now
    [u] = gw.execute([place(1)])
    assert u.status == OrderStatus.NEW and len(fake.orders) == 1
    assert clock.now - t0 >= 20.0  # 10 s IP block, then one address request per 10 s
    fake.reject_next("Insufficient margin to place order. asset=1")
    [r] = gw.execute([place(2)])
    assert r.reason.startswith("reduce: insufficient margin") and not gw.halted


def test_dead_mans_switch_cancels_when_heartbeats_stop(
    fake: FakeExchange, clock: FakeClockMs
) -> None:
    gw = gateway(fake, clock)
    dms = DeadMansSwitch(gw.schedule_cancel, window_s=10, refresh_s=3, clock=clock)
    gw.execute([place(1), place(2, -1, 301_000)])
    assert dms.beat() and fake.schedule_at == clock.ms() + 10_000
    for _ in range(5):  # beating every 3 s keeps the orders alive
        clock.sleep(3)
        dms.beat()
        fake.on_market("ETH", None, [], clock.ms())
    assert len(fake.orders) == 2 and fake.triggers == 0
    clock.sleep(10.5)  # the process hangs: no beat
    fake.on_market("ETH", None, [], clock.ms())
    assert not fake.orders and fake.triggers == 1
    assert all(st == "scheduledCancel" for _, st, _ in fake.done.values())
    dms.beat()  # the next beat sees the lapse and counts it
    assert dms.triggers_today == 1 and not dms.exhausted
    dms.stop()  # a clean stop unsets the deadline
    assert fake.schedule_at is None


def test_switch_firings_are_counted_and_warned_near_the_daily_cap(
    clock: FakeClockMs, caplog: pytest.LogCaptureFixture
) -> None:
    sent: list[int | None] = []
    dms = DeadMansSwitch(lambda at: sent.append(at) or True, 10, 3, clock=clock, warn_at=2)
    for _ in range(3):
        dms.beat()
        clock.sleep(11)  # hung past the deadline: the venue fired
    dms.beat()
    assert dms.triggers_today == 3 and sent[-1] == clock.ms() + 10_000
    fired = [r for r in caplog.records if "dead_mans_switch_fired" in r.getMessage()]
    assert [r.levelname for r in fired] == ["WARNING", "ERROR", "ERROR"]
    clock.sleep(86_400)  # a new UTC day: the venue's count starts again
    dms.beat()
    assert dms.triggers_today == 1
    with pytest.raises(ConfigError, match="does not fit"):
        DeadMansSwitch(lambda at: True, 10, 6)
    # a 5 s window is refused: the venue checks >= 5 s ahead when the request arrives, so
    # the time stamped here must leave the request a moment to get there
    with pytest.raises(ConfigError, match="too short"):
        DeadMansSwitch(lambda at: True, 5, 1)
    DeadMansSwitch(lambda at: True, 6, 1)
