"""Gateway + user channels against the fake server (real HTTP, real websocket)."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from fake_exchange import FakeExchange
from fake_hyperliquid import FakeHyperliquid
from hl_exec_helpers import ACCOUNT, AGENT, AGENT_KEY, COINS, TAG, specs
from hl_helpers import config_for, wait_for

from connectors.bybit.records import PrivateDown, PrivateReady, PrivateReset
from connectors.hyperliquid.api import HyperliquidApi
from connectors.hyperliquid.execution import HyperliquidGateway
from connectors.hyperliquid.private import HyperliquidPrivateFeed, HyperliquidPrivateSource
from connectors.hyperliquid.signing import ClientIds, Signer
from connectors.ws import WsSettings
from core.events import Fill, OrderStatus, OrderUpdate
from core.money import FEE_SCALE
from core.orders import ActionType, OrderAction

pytestmark = pytest.mark.venue
INST = "hyperliquid:BTC"


@pytest.fixture
def venue() -> Iterator[tuple[FakeHyperliquid, FakeExchange]]:
    ex = FakeExchange(ACCOUNT, AGENT, COINS)
    with FakeHyperliquid(ex, interval_s=0.02) as f:
        f.stall()  # the test moves the market itself
        ex.on_market("BTC", [[{"px": "100000", "sz": "1", "n": 1}],
                             [{"px": "100010", "sz": "1", "n": 1}]], [], 0)  # fmt: skip
        yield f, ex


def _gateway(fake: FakeHyperliquid) -> HyperliquidGateway:
    cfg = config_for(fake, secret_key=AGENT_KEY, account_address=ACCOUNT)
    key, account = cfg.require_keys()
    return HyperliquidGateway(HyperliquidApi(cfg.rest_url), Signer(key, False), specs(),
                              account.get_secret_value(), run_tag=TAG)  # fmt: skip


def _feed(fake: FakeHyperliquid) -> HyperliquidPrivateFeed:
    cfg = config_for(fake, secret_key=AGENT_KEY, account_address=ACCOUNT)
    src = HyperliquidPrivateSource({INST: specs()["BTC"]}, ClientIds("mm", TAG), cfg)
    return src.feed()


def _take(feed: HyperliquidPrivateFeed, got: list[Any], kind: type, n: int = 1) -> list[Any]:
    def enough() -> bool:
        got.extend(r for _, r in feed.drain())
        return sum(isinstance(r, kind) for r in got) >= n

    wait_for(enough)
    return [r for r in got if isinstance(r, kind)]


def _sell_trade(ex: FakeExchange, px: str, sz: str) -> None:
    ex.on_market("BTC", None, [{"coin": "BTC", "side": "A", "px": px, "sz": sz, "time": 0,
                                "tid": 1, "hash": "0x0"}], 0)  # fmt: skip


def test_own_orders_and_fills_arrive_exact_and_missed_fills_replay_after_a_drop(
    venue: tuple[FakeHyperliquid, FakeExchange],
) -> None:
    fake, ex = venue
    gw = _gateway(fake)
    # a fill from before this run: in the first snapshot, never booked again
    old = HyperliquidGateway(gw.api, gw.signer, specs(), ACCOUNT, run_tag="k2x9q0")
    old.execute([OrderAction(ActionType.PLACE, INST, "mmk2x9q0-1", 1, 999_900, 100)])
    _sell_trade(ex, "99990", "0.001")
    feed = _feed(fake)
    feed.start()
    got: list[Any] = []
    try:
        _take(feed, got, PrivateReady)
        [u, _] = gw.execute([OrderAction(ActionType.PLACE, INST, f"mm{TAG}-1", 1, 999_950, 300),
                             OrderAction(ActionType.PLACE, INST, f"mm{TAG}-2", -1, 1_000_500, 300)])  # fmt: skip
        assert u.status == OrderStatus.NEW and u.price == 999_950  # 99995.0, 5 sig figs
        new, _ = _take(feed, got, OrderUpdate, 2)
        assert (new.client_id, new.status, new.venue_order_id) == (u.client_id, OrderStatus.NEW, u.venue_order_id)  # fmt: skip
        _sell_trade(ex, "99995", "0.001")  # 100 of our 300 lots
        [fill] = _take(feed, got, Fill)
        fee = Decimal("99995") * Decimal("0.001") * Decimal("0.00015")
        assert (fill.client_id, fill.side, fill.price, fill.qty, fill.is_maker) == (u.client_id, 1, 999_950, 100, True)  # fmt: skip
        assert fill.fee == fee * FEE_SCALE / (Decimal("0.1") * Decimal("0.00001"))
        # the link drops; a fill happens while nobody listens
        fake.kill()
        _take(feed, got, PrivateDown)
        _sell_trade(ex, "99995", "0.002")
        with ex.lock:  # and the ask is cancelled by the venue (say, a margin check)
            ex._cancel_oid(max(ex.orders))
        fake.restart()

        def settled() -> bool:
            got.extend(r for _, r in feed.drain())
            fills = [r for r in got if isinstance(r, Fill)]
            return len(fills) >= 2 and isinstance(got[-1], PrivateReset)

        wait_for(settled)
        fills = [r for r in got if isinstance(r, Fill)]
        assert [f.qty for f in fills] == [100, 200]  # the missed one, once, not the old run's
        tail = got[got.index(fills[-1]) :]  # after a reconnect: missed fills, ends, the reset
        assert [type(r).__name__ for r in tail] == [
            "Fill",
            "OrderUpdate",
            "OrderUpdate",
            "PrivateReset",
        ]
        led = ex.ledgers["BTC"]
        assert gw.position(INST).qty == 400 == int(led.szi / Decimal("0.00001"))
        # both orders ended unseen: FILLED (its fills cover it) and CANCELED (orderStatus)
        final = [(r.client_id, r.status) for r in got if isinstance(r, OrderUpdate)][-2:]
        assert sorted(final) == [(f"mm{TAG}-1", OrderStatus.FILLED), (f"mm{TAG}-2", OrderStatus.CANCELED)]  # fmt: skip
        assert fake.count("subscribe", subscription={"type": "userFills", "user": ACCOUNT}) >= 2
    finally:
        feed.stop()


def test_amend_reports_one_live_order_under_the_same_client_id(
    venue: tuple[FakeHyperliquid, FakeExchange],
) -> None:
    fake, ex = venue
    gw = _gateway(fake)
    feed = _feed(fake)
    feed.start()
    got: list[Any] = []
    try:
        _take(feed, got, PrivateReady)
        gw.execute([OrderAction(ActionType.PLACE, INST, f"mm{TAG}-1", -1, 1_000_500, 200)])
        [a] = gw.execute([OrderAction(ActionType.AMEND, INST, f"mm{TAG}-1", -1, 1_000_400, 0)])
        ups = _take(feed, got, OrderUpdate, 2)
        assert [(x.status, x.price) for x in ups] == [(OrderStatus.NEW, 1_000_500), (OrderStatus.NEW, 1_000_400)]  # fmt: skip
        assert ups[-1].venue_order_id == a.venue_order_id and len(ex.orders) == 1
        # the fake's replaced order is canceled in orderStatus
        old = int(ups[0].venue_order_id)
        assert (
            ex.info({"type": "orderStatus", "user": ACCOUNT, "oid": old})["order"]["status"]
            == "canceled"
        )
    finally:
        feed.stop()


def test_settings_for_the_feed() -> None:
    s = WsSettings()
    assert s.ping_interval_s < 60  # the venue closes a link idle for 60 s
