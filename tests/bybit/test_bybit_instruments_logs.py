"""Instrument specs from instruments-info (load, hourly refresh), structured logs, and the
public source inside a real Bytewax dataflow."""

from __future__ import annotations

import json
import logging
import time
from decimal import Decimal

import bytewax.operators as op
import numpy as np
import pytest
from bybit_helpers import FakeClock, config_for
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSink, run_main
from fake_bybit import FakeBybit

from connectors.bybit.data import BybitPublicSource, PublicFeed, _PublicPartition
from connectors.bybit.instruments import BybitInstruments, spec_from_info
from connectors.bybit.rest import BybitRest
from core.errors import MMError
from core.events import Kind
from core.instruments import InstrumentSpec
from core.log import event, format_event

RESET, SNAP = int(Kind.FEED_RESET), int(Kind.BOOK_SNAPSHOT)


def test_spec_from_documented_instrument_entries() -> None:
    # Bybit docs example: BTCUSDT linear, tickSize 0.10, qtyStep 0.001, minNotionalValue 5
    btc = {"symbol": "BTCUSDT", "quoteCoin": "USDT", "priceFilter": {"tickSize": "0.10"},
           "lotSizeFilter": {"qtyStep": "0.001", "minOrderQty": "0.001", "minNotionalValue": "5"}}  # fmt: skip
    assert spec_from_info(btc) == InstrumentSpec(
        "bybit", "BTCUSDT", Decimal("0.10"), Decimal("0.001"), Decimal("5")
    )
    spot = {"symbol": "BTCUSDT", "quoteCoin": "USDT", "priceFilter": {"tickSize": "0.01"},
            "lotSizeFilter": {"basePrecision": "0.000001", "minOrderAmt": "5"}}  # fmt: skip
    assert spec_from_info(spot, "spot").lot_size == Decimal("0.000001")


@pytest.mark.venue
def test_load_and_hourly_refresh(fake: FakeBybit, clock: FakeClock) -> None:
    ins = BybitInstruments(BybitRest(config_for(fake)), ["XRPUSDT"], clock=clock)
    assert ins.load() == {
        "XRPUSDT": InstrumentSpec("bybit", "XRPUSDT", Decimal("0.0001"), Decimal("1"), Decimal("5"))
    }
    n = len(fake.calls("/v5/market/instruments-info"))
    clock.sleep(3599)
    assert ins.refresh_if_due() == [] and len(fake.calls("/v5/market/instruments-info")) == n
    clock.sleep(1)
    assert ins.refresh_if_due() == []  # re-read, unchanged
    assert len(fake.calls("/v5/market/instruments-info")) == n + 1
    fake.instrument["priceFilter"]["tickSize"] = "0.00005"
    clock.sleep(3600)
    assert ins.refresh_if_due() == ["XRPUSDT"]
    assert ins.get("XRPUSDT").tick_size == Decimal("0.00005")
    with pytest.raises(MMError, match="no linear instrument NOPEUSDT"):
        BybitInstruments(BybitRest(config_for(fake)), ["NOPEUSDT"]).load()


@pytest.mark.venue
def test_tick_change_resets_the_feed_and_rebuilds_the_book_on_the_new_grid(fake: FakeBybit) -> None:
    src = BybitPublicSource(
        ["XRPUSDT"], depth=50, trades=False, config=config_for(fake, instruments_refresh_s=0.2)
    )
    part: _PublicPartition = src.build_part("in", "XRPUSDT", None)
    try:
        items: list[tuple[str, np.ndarray]] = []
        deadline = time.monotonic() + 5
        while not any(int(b["kind"][0]) == SNAP for _, b in items) and time.monotonic() < deadline:
            items += part.next_batch()
            time.sleep(0.005)
        first = next(b for _, b in items if int(b["kind"][0]) == SNAP)
        old_best = int(first["price"][first["side"] == 1].max())
        fake.instrument["priceFilter"]["tickSize"] = "0.00005"
        feed: PublicFeed = part.feed
        mark = len(items)
        while time.monotonic() < deadline:
            items += part.next_batch()
            kinds = [int(b["kind"][0]) for _, b in items[mark:]]
            if RESET in kinds and SNAP in kinds[kinds.index(RESET) :]:
                break
            time.sleep(0.005)
        kinds = [int(b["kind"][0]) for _, b in items[mark:]]
        snap = items[mark + kinds.index(RESET) + kinds[kinds.index(RESET) :].index(SNAP)][1]
        new_best = int(snap["price"][snap["side"] == 1].max())
        assert feed.spec.tick_size == Decimal("0.00005")
        # the same best bid on a grid twice as fine: twice the ticks (within a tick of drift)
        assert abs(new_best - 2 * old_best) <= 2 * 5
    finally:
        part.close()


def test_text_and_json_log_lines(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("MM_LOG_FORMAT", raising=False)
    assert format_event(
        "ws_reconnect_wait", {"venue": "bybit", "delay_s": 0.5, "reason": "pong timeout"}
    ) == ('ws_reconnect_wait venue=bybit delay_s=0.5 reason="pong timeout"')
    monkeypatch.setenv("MM_LOG_FORMAT", "json")
    log = logging.getLogger("connectors.bybit.test")
    with caplog.at_level(logging.INFO, logger="connectors.bybit.test"):
        event(log, logging.WARNING, "rate_limited", venue="bybit", group="create", block_s=0.8)
    [line] = [r.getMessage() for r in caplog.records]
    assert "\n" not in line
    record = json.loads(line)
    assert isinstance(record.pop("ts"), int) and record.pop("level") == "WARNING"
    assert record == {
        "event": "rate_limited",
        "venue": "bybit",
        "group": "create",
        "block_s": 0.8,
    }


class _Limited(BybitPublicSource):
    """Stops after ``n`` items so a live source can run inside a finite test dataflow."""

    n = 30

    def build_part(self, step_id: str, for_part: str, resume_state: None) -> _PublicPartition:
        part = super().build_part(step_id, for_part, resume_state)
        inner, seen = part.next_batch, [0]

        def next_batch() -> list:
            if seen[0] >= self.n:
                part.close()
                raise StopIteration
            got = inner()[: self.n - seen[0]]
            seen[0] += len(got)
            return got

        part.next_batch = next_batch  # type: ignore[method-assign]
        return part


@pytest.mark.venue
def test_public_source_runs_in_a_bytewax_dataflow(fake: FakeBybit) -> None:
    out: list[tuple[str, int, int]] = []
    flow = Dataflow("bybit_public_test")
    events = op.input("bybit", flow, _Limited(["XRPUSDT"], depth=500, config=config_for(fake)))
    rows = op.map("summary", events, lambda kv: (kv[0], int(kv[1]["kind"][0]), len(kv[1])))
    op.output("out", rows, TestingSink(out))
    run_main(flow)
    assert len(out) == 30 and {i for i, _, _ in out} == {"bybit:XRPUSDT"}
    assert [k for _, k, _ in out[:2]] == [RESET, SNAP]
    assert out[1][2] > 500  # a 500-level snapshot: up to 500 bids and 500 asks
