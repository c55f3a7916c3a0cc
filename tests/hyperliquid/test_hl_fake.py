"""The fake Hyperliquid's hook interface (what the private side's exchange core plugs
into): info and exchange requests, user channels and publish, market callbacks, post."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from fake_hyperliquid import ExchangeHooks, FakeConn, FakeHyperliquid
from hl_helpers import wait_for
from websockets.sync.client import connect

USER = "0xAbC0000000000000000000000000000000000001"


class Core(ExchangeHooks):
    def __init__(self) -> None:
        self.markets: list[tuple[str, int, int]] = []

    def info(self, body: dict[str, Any]) -> Any:
        return [] if body.get("type") == "openOrders" else super().info(body)

    def exchange(self, body: dict[str, Any]) -> tuple[int, Any]:
        return 200, {"status": "ok", "response": {"type": "cancel", "data": {"statuses": []}}}

    def user_subscribe(self, conn: FakeConn, subscription: dict[str, Any]) -> bool:
        return subscription.get("type") in ("orderUpdates", "userEvents")

    def on_market(self, coin: str, book_levels: Any, trades: Any, time_ms: int) -> None:
        self.markets.append((coin, len(trades), time_ms))


def post(fake: FakeHyperliquid, path: str, body: dict[str, Any]) -> Any:
    req = urllib.request.Request(fake.base_url + path, data=json.dumps(body).encode())
    with urllib.request.urlopen(req, timeout=5) as resp:
        return json.loads(resp.read())


def test_hooks_answer_requests_reach_user_channels_and_see_the_market() -> None:
    core = Core()
    with FakeHyperliquid(core, interval_s=0.01) as fake:
        assert core.server is fake
        assert post(fake, "/info", {"type": "openOrders", "user": USER}) == []
        assert post(fake, "/exchange", {"action": {"type": "cancel"}})["status"] == "ok"
        assert fake.exchange_calls == [{"action": {"type": "cancel"}}]
        with connect(fake.ws_url) as ws:
            sub = {"type": "orderUpdates", "user": USER}
            ws.send(json.dumps({"method": "subscribe", "subscription": sub}))
            ack = json.loads(ws.recv())
            assert ack == {"channel": "subscriptionResponse",
                           "data": {"method": "subscribe", "subscription": sub}}  # fmt: skip
            ws.send(
                json.dumps(
                    {"method": "subscribe", "subscription": {"type": "webData2", "user": USER}}
                )
            )
            assert json.loads(ws.recv())["channel"] == "error"  # refused by the hooks
            fake.publish("orderUpdates", USER.lower(), [{"order": {"oid": 1}, "status": "open"}])
            assert json.loads(ws.recv()) == {
                "channel": "orderUpdates", "data": [{"order": {"oid": 1}, "status": "open"}]
            }  # fmt: skip
            ws.send(
                json.dumps(
                    {
                        "method": "post",
                        "id": 7,
                        "request": {"type": "info", "payload": {"type": "meta"}},
                    }
                )
            )
            answer = json.loads(ws.recv())
            assert answer["channel"] == "post" and answer["data"]["id"] == 7
            assert answer["data"]["response"]["payload"]["data"]["universe"][0]["name"] == "BTC"
        wait_for(lambda: any(n for _, n, _ in core.markets) and len(core.markets) > 5)
        assert {c for c, _, _ in core.markets} == {"BTC"}
        times = [t for _, _, t in core.markets]
        assert times == sorted(times)
