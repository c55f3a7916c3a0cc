"""Private-stream parsing with Bybit's documented message examples (XRPUSDT linear)."""

from __future__ import annotations

import copy
from decimal import Decimal

import pytest

from connectors.bybit import codec
from connectors.bybit.records import PositionUpdate
from core.errors import MalformedLine
from core.events import Fill, OrderStatus, OrderUpdate
from core.instruments import known_instrument
from core.money import fee_units, rate_to_e8

XRP = known_instrument("bybit", "XRPUSDT")
assert XRP is not None
RECV = 1_700_000_000_123_456_789

# Bybit V5 docs, websocket private "execution" stream example (verbatim values).
EXECUTION = {
    "id": "592324803b2785-26fa-4214-9963-bdd4727f07be",
    "topic": "execution",
    "creationTime": 1672364174455,
    "data": [
        {
            "category": "linear", "symbol": "XRPUSDT", "execFee": "0.005061",
            "execId": "7e2ae69c-4edf-5800-a352-893d52b446aa", "execPrice": "0.3374",
            "execQty": "25", "execType": "Trade", "execValue": "8.435", "isMaker": False,
            "feeRate": "0.0006", "tradeIv": "", "markIv": "", "blockTradeId": "",
            "markPrice": "0.3391", "indexPrice": "", "underlyingPrice": "", "leavesQty": "0",
            "orderId": "f6e324ff-99c2-4e89-9739-3086e47f9381", "orderLinkId": "",
            "orderPrice": "0.3207", "orderQty": "25", "orderType": "Market",
            "stopOrderType": "UNKNOWN", "side": "Sell", "execTime": "1672364174443",
            "isLeverage": "0", "closedSize": "", "seq": 4688002127,
        }
    ],
}  # fmt: skip

# Bybit V5 docs "order" stream example, fields as documented, values of a linear XRPUSDT
# PostOnly order.
ORDER = {
    "id": "5923240c6880ab-c59f-420b-9adb-3639adc9dd90",
    "topic": "order",
    "creationTime": 1672364262474,
    "data": [
        {
            "symbol": "XRPUSDT", "orderId": "5cf98598-39a7-459e-97bf-76ca765ee020",
            "side": "Buy", "orderType": "Limit", "cancelType": "UNKNOWN", "price": "0.3207",
            "qty": "25", "orderIv": "", "timeInForce": "PostOnly", "orderStatus": "New",
            "orderLinkId": "mmk2x9-17", "lastPriceOnCreated": "", "reduceOnly": False,
            "leavesQty": "25", "leavesValue": "8.0175", "cumExecQty": "0", "cumExecValue": "0",
            "avgPrice": "", "blockTradeId": "", "positionIdx": 0, "cumExecFee": "0",
            "closedPnl": "0", "createdTime": "1672364262444", "updatedTime": "1672364262457",
            "rejectReason": "EC_NoError", "stopOrderType": "", "tpslMode": "", "triggerPrice": "",
            "takeProfit": "", "stopLoss": "", "tpTriggerBy": "", "slTriggerBy": "",
            "tpLimitPrice": "", "slLimitPrice": "", "triggerDirection": 0, "triggerBy": "",
            "closeOnTrigger": False, "category": "linear", "placeType": "", "smpType": "None",
            "smpGroup": 0, "smpOrderId": "", "feeCurrency": "",
        }
    ],
}  # fmt: skip

# Bybit V5 docs "position" stream example (older XRPUSDT version of the example).
POSITION = {
    "id": "59232430b58efe-5fc5-4470-9337-4ce293b68edd",
    "topic": "position",
    "creationTime": 1672364174455,
    "data": [
        {
            "positionIdx": 0, "tradeMode": 0, "riskId": 41, "riskLimitValue": "200000",
            "symbol": "XRPUSDT", "side": "Buy", "size": "75", "entryPrice": "0.3615",
            "leverage": "10", "positionValue": "27.1125", "positionBalance": "0",
            "markPrice": "0.3374", "positionIM": "2.72589075", "positionMM": "0.28576575",
            "takeProfit": "0", "stopLoss": "0", "trailingStop": "0", "unrealisedPnl": "-1.8075",
            "cumRealisedPnl": "0.64782276", "createdTime": "1672121182216",
            "updatedTime": "1672364174449", "tpslMode": "Full", "liqPrice": "", "bustPrice": "",
            "category": "linear", "positionStatus": "Normal", "adlRankIndicator": 2,
            "seq": 4688002127,
        }
    ],
}  # fmt: skip


def _order(**changes: object) -> dict:
    item = copy.deepcopy(ORDER["data"][0])
    item.update(changes)
    return item


def test_execution_example_becomes_an_exact_fill() -> None:
    f = codec.fill(XRP, EXECUTION["data"][0], RECV)
    # price 0.3374 / tick 0.0001 = 3374 ticks; 25 XRP / lot 1 = 25 lots;
    # fee 0.005061 USDT / (0.0001 * 1) * 1e8 = 5_061_000_000 fee units
    assert f == Fill(
        inst="bybit:XRPUSDT", client_id="", side=-1, price=3374, qty=25, fee=5_061_000_000,
        is_maker=False, exch_ts=1672364174443_000000, recv_ts=RECV,
        exec_id="7e2ae69c-4edf-5800-a352-893d52b446aa",
    )  # fmt: skip
    # the same fee from core.money at the example's taker rate 0.0006: exact agreement
    assert f.fee == fee_units(3374, 25, rate_to_e8("0.0006"))


def test_rebate_is_a_negative_fee_and_funding_is_not_a_fill() -> None:
    maker = dict(EXECUTION["data"][0], execFee="-0.00084350", isMaker=True, feeRate="-0.0001")
    f = codec.fill(XRP, maker, RECV)
    assert f is not None and f.is_maker
    assert f.fee == -843_500_000  # -0.0008435 / 0.0001 * 1e8
    funding = dict(EXECUTION["data"][0], execType="Funding", execFee="0.0001")
    assert codec.fill(XRP, funding, RECV) is None


def test_fee_with_more_precision_than_a_fee_unit_is_refused() -> None:
    # one fee unit is 0.0001 * 1 / 1e8 = 1e-12 USDT; 1e-13 is a tenth of one
    with pytest.raises(MalformedLine, match="not a whole number of fee units"):
        codec.fee_units(XRP, "0.0000000000001")


def test_new_postonly_order_is_new_in_ticks_and_lots() -> None:
    u = codec.order_update(XRP, ORDER["data"][0], RECV)
    assert u == OrderUpdate(
        inst="bybit:XRPUSDT", client_id="mmk2x9-17", status=OrderStatus.NEW, side=1,
        price=3207, qty=25, filled=0, exch_ts=1672364262457_000000, recv_ts=RECV,
        venue_order_id="5cf98598-39a7-459e-97bf-76ca765ee020", reason="",
    )  # fmt: skip


def test_postonly_that_would_cross_is_a_rejection_marked_post_only() -> None:
    item = _order(
        orderStatus="Cancelled", rejectReason="EC_PostOnlyWillTakeLiquidity", leavesQty="0"
    )
    u = codec.order_update(XRP, item, RECV)
    assert u is not None and u.status == OrderStatus.REJECTED
    assert "post-only" in u.reason and "EC_PostOnlyWillTakeLiquidity" in u.reason


def test_partial_fill_cancel_and_conditional_states() -> None:
    part = codec.order_update(XRP, _order(orderStatus="PartiallyFilled", cumExecQty="10"), RECV)
    assert part is not None and (part.status, part.filled, part.qty) == (
        OrderStatus.PARTIALLY_FILLED,
        10,
        25,
    )
    gone = codec.order_update(XRP, _order(orderStatus="Cancelled", cancelType="CancelByDCP"), RECV)
    assert gone is not None and gone.status == OrderStatus.CANCELED and gone.reason == "CancelByDCP"
    assert codec.order_update(XRP, _order(orderStatus="Untriggered"), RECV) is None


def test_off_grid_price_is_malformed_not_rounded() -> None:
    with pytest.raises(MalformedLine, match="not a multiple of tick size"):
        codec.order_update(XRP, _order(price="0.32075"), RECV)


def test_position_example_is_signed_lots() -> None:
    p = codec.position_update(XRP, POSITION["data"][0], RECV)
    assert p == PositionUpdate(
        inst="bybit:XRPUSDT", qty=75, entry_price=Decimal("0.3615"), mark_price=Decimal("0.3374"),
        unrealised_pnl=Decimal("-1.8075"), cum_realised_pnl=Decimal("0.64782276"),
        exch_ts=1672364174449_000000, recv_ts=RECV, seq=4688002127,
    )  # fmt: skip
    short = codec.position_update(XRP, dict(POSITION["data"][0], side="Sell"), RECV)
    assert short.qty == -75
    # REST /v5/position/list names the entry "avgPrice"; an empty position has side ""
    flat = dict(POSITION["data"][0], side="", size="0", avgPrice="0")
    del flat["entryPrice"]
    assert codec.position_update(XRP, flat, RECV).qty == 0


@pytest.mark.parametrize(
    ("topic", "kind"),
    [("order", "order"), ("order.linear", "order"), ("execution", "execution"),
     ("execution.fast", None), ("position", "position"), ("dcp.future", "dcp"),
     ("orderbook.50.XRPUSDT", None), (None, None)],
)  # fmt: skip
def test_private_topics(topic: object, kind: str | None) -> None:
    assert codec.private_topic(topic) == kind
