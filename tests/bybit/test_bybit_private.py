"""Private stream against the fake Bybit: auth, own orders, fills, positions, and no secret
in any log line."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from bybit_helpers import FakeClock, config_for, wait_for
from fake_bybit import TICK, FakeBybit
from pydantic import SecretStr

from connectors.bybit.config import BybitConfig, load_bybit_config
from connectors.bybit.execution import BybitGateway
from connectors.bybit.instruments import BybitInstruments
from connectors.bybit.private import BybitPrivateSource, PrivateFeed, _PrivatePartition
from connectors.bybit.records import PositionUpdate, PrivateReset
from connectors.bybit.rest import BybitRest
from connectors.bybit.ws import WsSettings
from core.errors import ConfigError
from core.events import Fill, OrderStatus, OrderUpdate
from core.money import fee_units, rate_to_e8
from core.orders import ActionType, OrderAction

pytestmark = pytest.mark.venue
INST = "bybit:XRPUSDT"


@pytest.fixture
def private() -> Iterator[Callable[[BybitConfig], _PrivatePartition]]:
    parts: list[_PrivatePartition] = []

    def build(cfg: BybitConfig) -> _PrivatePartition:
        part = BybitPrivateSource(["XRPUSDT"], config=cfg).build_part(
            "private", "bybit-private", None
        )
        parts.append(part)
        return part

    yield build
    for p in parts:
        p.close()


def collect(
    part: _PrivatePartition,
    items: list[tuple[str, Any]],
    until: Callable[[list[Any]], bool],
    timeout: float = 5.0,
) -> list[Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        items.extend(part.next_batch())
        recs = [r for _, r in items]
        if until(recs):
            return recs
        time.sleep(0.005)
    raise AssertionError(f"not reached; got {[type(r).__name__ for _, r in items]}")


def subscribed(fake: FakeBybit) -> set[str]:
    return {t for c in fake.private_conns for t in c.topics}


def make_gateway(cfg: BybitConfig) -> BybitGateway:
    rest = BybitRest(cfg)
    clock = FakeClock()
    return BybitGateway(rest, BybitInstruments(rest, ["XRPUSDT"]).load(), run_tag="k2x9q1",
                        clock=clock, sleep=clock.sleep)  # fmt: skip


def test_orders_fills_and_positions_arrive_exact(
    fake: FakeBybit, fake_config: BybitConfig, private: Callable[[BybitConfig], _PrivatePartition]
) -> None:
    part = private(fake_config)
    wait_for(lambda: {"order", "execution", "position", "dcp.future"} <= subscribed(fake))
    gw = make_gateway(fake_config)
    [ack] = gw.execute([OrderAction(ActionType.PLACE, INST, "mmk2x9q1-1", 1, 19000, 10)])
    items: list[tuple[str, Any]] = []
    collect(part, items, lambda rs: any(isinstance(r, OrderUpdate) for r in rs))
    fake.fill("mmk2x9q1-1", 4)
    recs = collect(
        part,
        items,
        lambda rs: (
            any(isinstance(r, Fill) for r in rs)
            and sum(isinstance(r, PositionUpdate) for r in rs) >= 2
        ),
    )
    assert {i for i, _ in items} == {INST}
    new = next(r for r in recs if isinstance(r, OrderUpdate))
    assert (new.status, new.client_id, new.price, new.qty, new.venue_order_id) == (
        OrderStatus.NEW,
        "mmk2x9q1-1",
        19000,
        10,
        ack.venue_order_id,
    )
    fill = next(r for r in recs if isinstance(r, Fill))
    # 4 lots at 19000 ticks, maker fee 0.0002: 1.9 * 4 * 0.0002 = 0.00152 USDT
    # = 0.00152 / 0.0001 * 1e8 = 1_520_000_000 fee units, the same as core.money computes
    assert (fill.client_id, fill.side, fill.price, fill.qty, fill.is_maker) == (
        "mmk2x9q1-1",
        1,
        19000,
        4,
        True,
    )
    assert fill.fee == 1_520_000_000 == fee_units(19000, 4, rate_to_e8("0.0002"))
    recs = collect(
        part,
        items,
        lambda rs: any(
            isinstance(r, OrderUpdate) and r.status == OrderStatus.PARTIALLY_FILLED for r in rs
        ),
    )
    partial = next(
        r for r in recs if isinstance(r, OrderUpdate) and r.status == OrderStatus.PARTIALLY_FILLED
    )
    assert partial.filled == 4
    assert [r for r in recs if isinstance(r, PositionUpdate)][-1].qty == 4


def test_postonly_that_would_cross_is_rejected_on_the_private_stream(
    fake: FakeBybit, fake_config: BybitConfig, private: Callable[[BybitConfig], _PrivatePartition]
) -> None:
    part = private(fake_config)
    wait_for(lambda: "order" in subscribed(fake))
    best_ask = fake.book.best_ask()
    assert best_ask is not None
    gw = make_gateway(fake_config)
    [ack] = gw.execute(
        [OrderAction(ActionType.PLACE, INST, "mmk2x9q1-2", 1, int(best_ask / TICK), 10)]
    )
    assert ack.status == OrderStatus.NEW  # the API accepts it ...
    recs = collect(part, [], lambda rs: any(isinstance(r, OrderUpdate) for r in rs))
    upd = next(r for r in recs if isinstance(r, OrderUpdate))
    assert (
        upd.status == OrderStatus.REJECTED and "post-only" in upd.reason
    )  # ... the engine does not
    assert fake.open_orders() == []


def test_market_trading_through_a_resting_order_fills_it(
    private: Callable[[BybitConfig], _PrivatePartition],
) -> None:
    with FakeBybit(fill_on_cross=True) as fake:
        cfg = config_for(fake)
        part = private(cfg)
        wait_for(lambda: "execution" in subscribed(fake))
        make_gateway(cfg).execute(
            [OrderAction(ActionType.PLACE, INST, "mmk2x9q1-5", -1, 21000, 10)]
        )
        fake.market_delta(bids=[["2.1000", "500"]], asks=[])  # a bid at our ask: we are hit
        recs = collect(part, [], lambda rs: any(isinstance(r, Fill) for r in rs))
        fill = next(r for r in recs if isinstance(r, Fill))
        assert (fill.client_id, fill.side, fill.price, fill.qty, fill.is_maker) == (
            "mmk2x9q1-5",
            -1,
            21000,
            10,
            True,
        )
        assert fake.open_orders() == [] and fake.position == -10


def test_wrong_secret_fails_auth_and_backs_off(fake: FakeBybit) -> None:
    cfg = config_for(fake, api_secret="wrong-secret-123")
    key, secret = cfg.require_keys()
    feed = PrivateFeed(cfg.ws_private_url or "", WsSettings.from_config(cfg), key, secret, {})
    feed.start()
    try:
        wait_for(lambda: feed.auth_failures >= 2, timeout=5)
    finally:
        feed.stop()
    assert not feed.authenticated and subscribed(fake) == set()
    assert not any(o["op"] == "subscribe" for o in fake.private_ops)


def test_reconnect_reauthenticates_and_asks_for_reconciliation(
    fake: FakeBybit, fake_config: BybitConfig, private: Callable[[BybitConfig], _PrivatePartition]
) -> None:
    part = private(fake_config)
    wait_for(lambda: "order" in subscribed(fake))
    fake.drop_connections()
    recs = collect(part, [], lambda rs: any(isinstance(r, PrivateReset) for r in rs))
    assert next(r for r in recs if isinstance(r, PrivateReset)).inst == INST
    wait_for(lambda: {"order", "execution", "position", "dcp.future"} <= subscribed(fake))
    assert sum(o["op"] == "auth" for o in fake.private_ops) == 2


def test_private_source_without_keys_is_a_config_error(fake: FakeBybit) -> None:
    cfg = load_bybit_config(rest_url=fake.rest_url, ws_private_url=fake.ws_private_url)
    with pytest.raises(
        ConfigError,
        match=r"^BYBIT_API_KEY and BYBIT_API_SECRET are not set \(set them, or use paper mode: MM_MODE=paper\)$",
    ):
        BybitPrivateSource(["XRPUSDT"], config=cfg)


def test_no_secret_in_any_log_line(
    fake: FakeBybit,
    caplog: pytest.LogCaptureFixture,
    private: Callable[[BybitConfig], _PrivatePartition],
) -> None:
    caplog.set_level(logging.DEBUG)
    cfg = config_for(fake)
    part = private(cfg)
    wait_for(lambda: "order" in subscribed(fake))
    gw = make_gateway(cfg)
    gw.start([INST], dcp_window_s=10)
    gw.execute([OrderAction(ActionType.PLACE, INST, "mmk2x9q1-1", 1, 19000, 10)])
    fake.reject_next(10004, "error sign!")
    gw.execute([OrderAction(ActionType.PLACE, INST, "mmk2x9q1-2", 1, 19000, 10)])
    fake.fill("mmk2x9q1-1", 10)
    collect(part, [], lambda rs: any(isinstance(r, Fill) for r in rs))
    fake.drop_connections()
    wait_for(lambda: sum(o["op"] == "auth" for o in fake.private_ops) >= 2)
    bad = config_for(fake, api_secret="wrong-secret-456")
    feed = PrivateFeed(
        bad.ws_private_url or "", WsSettings.from_config(bad), *bad.require_keys(), {}
    )
    feed.start()
    wait_for(lambda: feed.auth_failures >= 1)
    feed.stop()
    BybitGateway(BybitRest(bad), {}, run_tag="x").rest.call(
        "/v5/order/realtime", {"category": "linear"}
    )
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "ws_connected" in text and "order_rejected" in text and "ws_auth_failed" in text
    secrets = [fake.api_key, fake.api_secret, "wrong-secret-456", *fake.signatures]
    assert len(fake.signatures) > 5
    for s in secrets:
        assert s not in text
    assert all(
        s not in repr(x) for x in (cfg, gw.rest, feed) for s in (fake.api_secret, fake.api_key)
    )
    assert SecretStr(fake.api_secret).__repr__() == "SecretStr('**********')"
