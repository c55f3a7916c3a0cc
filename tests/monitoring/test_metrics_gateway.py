"""The latency breakdown's venue half and the rate headroom, through the real gateway
worker against the fake Bybit (real HTTP)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from bybit_helpers import config_for, wait_for
from fake_bybit import FakeBybit

from connectors.bybit.execution import BybitGateway
from connectors.bybit.instruments import BybitInstruments
from connectors.bybit.order_sink import GatewayWorker
from connectors.bybit.rest import BybitRest
from connectors.feedback import FeedbackBus
from core.orders import ActionType, OrderAction
from monitoring import metrics as mm

pytestmark = pytest.mark.venue
INST = "bybit:XRPUSDT"


@pytest.fixture
def metrics() -> Iterator[mm.MMMetrics]:
    m = mm.MMMetrics()
    mm.install(m)
    yield m
    mm.install(None)


def test_gateway_records_decision_to_request_order_ack_and_headroom(
    metrics: mm.MMMetrics,
) -> None:
    with FakeBybit() as fake:
        rest = BybitRest(config_for(fake))
        specs = BybitInstruments(rest, ["XRPUSDT"], "linear").load()
        gateway = BybitGateway(rest, specs, run_tag="unit", client_id_prefix="mm")
        worker = GatewayWorker(gateway, FeedbackBus())
        try:
            places = [
                OrderAction(ActionType.PLACE, INST, f"mmunit-{n}", 1, 19000 - n, 10)
                for n in range(3)
            ]
            worker.submit(places)
            wait_for(lambda: len(fake.open_orders()) == 3 and worker.wait_idle(0))
            worker.submit([OrderAction(ActionType.CANCEL, INST, "mmunit-0")])
            wait_for(lambda: len(fake.open_orders()) == 2 and worker.wait_idle(0))
        finally:
            worker.halt()
        r = metrics.registry
        # every action handed over was taken to send once
        assert r.get_sample_value("mm_decision_to_request_seconds_count", {"venue": "bybit"}) == 4
        # one observation per order request on the wire (the 3 places went as one batch)
        creates = len(fake.calls("/v5/order/create")) + len(fake.calls("/v5/order/create-batch"))
        ack = {"venue": "bybit", "action": "create"}
        assert r.get_sample_value("mm_order_ack_seconds_count", ack) == creates == 1
        assert r.get_sample_value("mm_order_ack_seconds_sum", ack) > 0
        assert r.get_sample_value("mm_order_ack_seconds_count", {**ack, "action": "cancel"}) == 1

        def headroom() -> float | None:
            return r.get_sample_value(
                "mm_rate_budget_headroom", {"venue": "bybit", "group": "create"}
            )

        first = headroom()
        assert first is not None and 0.0 <= first <= 1.0
        bucket = gateway.limiter.buckets["create"]
        bucket.tokens, bucket.rate = 2.5, 1e-9  # a quarter left, none coming back
        assert headroom() == pytest.approx(0.25)  # read from the live limiter at scrape time
