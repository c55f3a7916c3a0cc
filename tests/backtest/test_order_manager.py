"""Order manager: desired quotes -> exactly the actions needed, nothing duplicated."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from core.events import Fill, OrderStatus, OrderUpdate
from core.instruments import ASK, BID, KNOWN_INSTRUMENTS
from core.orders import ActionType
from core.params import OrderParams, QuoteParams
from operators.orders.kernel import CompiledOrderManager, CompiledTokenBucket
from operators.orders.manager import OrderManager, OrderState, TokenBucket
from operators.quoting.engine import QuoteLevel, QuoteSet

SPEC = KNOWN_INSTRUMENTS["binance-usdm:BTCUSDT"]
INST = SPEC.id
S = 1_000_000_000
MID = 618000.5


@pytest.fixture(params=[OrderManager, CompiledOrderManager], ids=["reference", "compiled"])
def om(request: pytest.FixtureRequest) -> Callable[..., OrderManager]:
    """A factory of order managers: the reference, then the compiled kernel."""
    cls = request.param

    def make(**kw: object) -> OrderManager:
        q = {k: kw.pop(k) for k in list(kw) if k in QuoteParams.model_fields}
        return cls(INST, SPEC, OrderParams(**kw), QuoteParams(**q))  # type: ignore[arg-type]

    return make


def quotes(bid: int | None = 617900, ask: int | None = 618100, qty: int = 2) -> QuoteSet:
    return QuoteSet(
        bids=[QuoteLevel(BID, 0, bid, qty)] if bid else [],
        asks=[QuoteLevel(ASK, 0, ask, qty)] if ask else [],
    )


def ack(m: OrderManager, cid: str, status: OrderStatus = OrderStatus.NEW, **kw: object) -> str:
    o = m.orders[cid]
    fields = {"price": o.price, "qty": o.qty, "filled": 0, "reason": "", **kw}
    return m.on_update(
        OrderUpdate(
            INST,
            cid,
            status,
            o.side,
            fields["price"],
            fields["qty"],  # type: ignore[arg-type]
            fields["filled"],
            0,
            0,
            reason=fields["reason"],
        )
    )  # type: ignore[arg-type]


def test_places_both_sides_once_with_unique_ids(om: Callable[..., OrderManager]) -> None:
    m = om()
    acts, rej = m.reconcile(quotes(), S, MID)
    assert rej == [] and [(a.type, a.side, a.price, a.qty) for a in acts] == [
        (ActionType.PLACE, BID, 617900, 2),
        (ActionType.PLACE, ASK, 618100, 2),
    ]
    assert [a.client_id for a in acts] == ["mmbt-1", "mmbt-2"]
    assert all(a.post_only for a in acts)
    # in flight: the same desire produces nothing more
    assert m.reconcile(quotes(), S + 1, MID) == ([], [])


def test_amend_only_beyond_the_replace_threshold(om: Callable[..., OrderManager]) -> None:
    m = om(replace_threshold_ticks=3)
    acts, _ = m.reconcile(quotes(), S, MID)
    for a in acts:
        ack(m, a.client_id)
    assert m.reconcile(quotes(bid=617902), 2 * S, MID)[0] == []  # 2 ticks: skipped
    acts, _ = m.reconcile(quotes(bid=617903), 3 * S, MID)  # 3 ticks: amended, same id
    assert [(a.type, a.client_id, a.price) for a in acts] == [(ActionType.AMEND, "mmbt-1", 617903)]
    assert m.orders["mmbt-1"].state == OrderState.PENDING_AMEND
    assert m.reconcile(quotes(bid=617950), 4 * S, MID)[0] == []  # amend in flight: no duplicate
    ack(m, "mmbt-1", OrderStatus.AMENDED, price=617903)
    assert m.orders["mmbt-1"].state == OrderState.LIVE and m.orders["mmbt-1"].price == 617903


def test_cancels_a_side_that_is_no_longer_quoted(om: Callable[..., OrderManager]) -> None:
    m = om()
    for a in m.reconcile(quotes(), S, MID)[0]:
        ack(m, a.client_id)
    acts, _ = m.reconcile(quotes(ask=None), 2 * S, MID)
    assert [(a.type, a.client_id) for a in acts] == [(ActionType.CANCEL, "mmbt-2")]
    ack(m, "mmbt-2", OrderStatus.CANCELED)
    assert set(m.orders) == {"mmbt-1"}


def test_rate_budget_sends_cancels_before_new_orders(om: Callable[..., OrderManager]) -> None:
    m = om(rate_limit_per_s=1.0, rate_burst=2)
    for a in m.reconcile(quotes(), S, MID)[0]:  # uses both tokens
        ack(m, a.client_id)
    # 1 s later one token; the new desire (only a level-1 bid) needs 2 cancels + 1 place:
    # the token goes to a cancel, the other cancel and the place wait for the next reconcile
    acts, _ = m.reconcile(QuoteSet(bids=[QuoteLevel(BID, 1, 617800, 2)]), 2 * S, MID)
    assert [a.type for a in acts] == [ActionType.CANCEL]
    assert m.stats["throttled"] == 2


def test_pretrade_checks_reject_before_sending(om: Callable[..., OrderManager]) -> None:
    m = om(max_order_usd=100.0)
    # 3 lots at 61790.0 = 185.37 USDT > 100
    acts, rej = m.reconcile(quotes(qty=3), S, MID)
    assert acts == [] and len(rej) == 2 and "max_order_usd" in rej[0].reason
    m = om(price_band_bps=10.0)
    acts, rej = m.reconcile(quotes(bid=610000), S, MID)  # 129 bps below mid
    assert [a.side for a in acts] == [ASK] and "outside" in rej[0].reason
    m = om(max_open_orders=1)
    acts, rej = m.reconcile(quotes(), S, MID)
    assert len(acts) == 1 and "open orders" in rej[0].reason


def test_rejected_place_frees_the_slot_and_rejected_cancel_keeps_the_order(
    om: Callable[..., OrderManager],
) -> None:
    m = om()
    acts, _ = m.reconcile(quotes(ask=None), S, MID)
    ack(m, acts[0].client_id, OrderStatus.REJECTED, reason="post-only would cross")
    assert m.orders == {}
    acts, _ = m.reconcile(quotes(ask=None), 2 * S, MID)
    assert [a.client_id for a in acts] == ["mmbt-2"]  # a fresh id, never a reused one
    ack(m, "mmbt-2")
    acts, _ = m.reconcile(QuoteSet(), 3 * S, MID)
    ack(m, "mmbt-2", OrderStatus.REJECTED, reason="too many requests")
    assert m.orders["mmbt-2"].state == OrderState.LIVE


def test_hanging_orders_survive_requotes_until_too_far(om: Callable[..., OrderManager]) -> None:
    m = om(hanging_orders=True, hanging_cancel_bps=20.0)
    for a in m.reconcile(quotes(), S, MID)[0]:
        ack(m, a.client_id)
    m.on_fill(Fill(INST, "mmbt-1", BID, 617900, 2, 0, True, 0, 0))
    ack(m, "mmbt-1", OrderStatus.FILLED, filled=2)
    assert m.orders["mmbt-2"].hanging
    acts, _ = m.reconcile(quotes(bid=617950, ask=618150), 2 * S, MID)
    # the hanging ask is kept; both slots get fresh orders
    assert sorted((a.type, a.side) for a in acts) == [
        (ActionType.PLACE, ASK),
        (ActionType.PLACE, BID),
    ]
    # mid moves 30 bps away: the hanging order (618100) is cancelled
    acts, _ = m.reconcile(quotes(bid=None, ask=None), 3 * S, 616000.0)
    assert (ActionType.CANCEL, "mmbt-2") in [(a.type, a.client_id) for a in acts]


def test_max_order_age_replaces_old_orders(om: Callable[..., OrderManager]) -> None:
    m = om(max_order_age_s=10.0)
    for a in m.reconcile(quotes(), S, MID)[0]:
        ack(m, a.client_id)
    assert m.reconcile(quotes(), 10 * S, MID)[0] == []
    acts, _ = m.reconcile(quotes(), 11 * S, MID)  # 10 s old: cancelled and replaced at once
    assert [a.type for a in acts] == [ActionType.CANCEL] * 2 + [ActionType.PLACE] * 2
    assert {a.client_id for a in acts if a.type == ActionType.PLACE} == {"mmbt-3", "mmbt-4"}


@pytest.mark.parametrize(
    "Bucket", [TokenBucket, CompiledTokenBucket], ids=["reference", "compiled"]
)
def test_token_bucket_refills_on_the_event_clock(Bucket: type[TokenBucket]) -> None:
    b = Bucket(2.0, 2)
    assert b.take(0) and b.take(0) and not b.take(0)
    assert b.take(S // 2) and not b.take(S // 2)  # 0.5 s x 2/s = 1 token


def test_post_only_rejection_after_ack_ends_the_order(om: Callable[..., OrderManager]) -> None:
    # Bybit acks a PostOnly order over REST, then the engine rejects it if it would take
    m = om()
    acts, _ = m.reconcile(quotes(ask=None), S, MID)
    ack(m, acts[0].client_id)
    assert (
        ack(m, acts[0].client_id, OrderStatus.REJECTED, reason="post-only would take liquidity")
        == "rejected"
    )
    assert m.orders == {}
    acts, _ = m.reconcile(quotes(ask=None), 2 * S, MID)
    assert [(a.type, a.client_id) for a in acts] == [(ActionType.PLACE, "mmbt-2")]
