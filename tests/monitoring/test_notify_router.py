"""The notifier's rules on a fake clock: what each event becomes, word for word."""

from __future__ import annotations

from datetime import UTC, datetime

from monitoring.notify.dedup import Deduper
from monitoring.notify.router import Router

T0 = datetime(2026, 12, 1, 23, 59, 0, tzinfo=UTC).timestamp()


def fill(side: str, qty: str, price: str, maker: bool = True, pos: str = "0") -> dict:
    return {"inst": "bybit:XRPUSDT", "side": side, "qty": qty, "price": price, "maker": maker,
            "position": pos}  # fmt: skip


def test_fills_are_batched_per_instrument_into_one_message_per_interval() -> None:
    r = Router(fill_batch_s=10.0)
    assert r.on_event("fill", fill("buy", "100", "0.5123", pos="100"), T0) == []
    assert r.on_event("fill", fill("buy", "50", "0.5120", pos="150"), T0 + 1) == []
    assert r.on_event("fill", fill("sell", "30", "0.5131", False, pos="120"), T0 + 2) == []
    other = {**fill("sell", "0.001", "97000.5", pos="-0.001"), "inst": "bybit:BTCUSDT"}
    assert r.on_event("fill", other, T0 + 5) == []
    assert r.tick(T0 + 9.9) == []
    assert r.tick(T0 + 10) == [
        "fills bybit:XRPUSDT: 3, bought 150 @ 0.5122 avg, sold 30 @ 0.5131 avg; "
        "position 120\n"
        "  buy 100 @ 0.5123 maker\n  buy 50 @ 0.5120 maker\n  sell 30 @ 0.5131 taker"
    ]
    assert r.tick(T0 + 14) == []
    assert r.tick(T0 + 15) == [
        "fills bybit:BTCUSDT: 1, sold 0.001 @ 97000.5 avg; position -0.001\n"
        "  sell 0.001 @ 97000.5 maker"
    ]


def test_a_big_batch_lists_ten_fills_and_counts_the_rest() -> None:
    r = Router(fill_batch_s=1.0)
    for i in range(25):
        r.on_event("fill", fill("buy", "1", "2", pos=str(i + 1)), T0)
    (text,) = r.tick(T0 + 1)
    lines = text.split("\n")
    assert lines[0] == "fills bybit:XRPUSDT: 25, bought 25 @ 2 avg; position 25"
    assert len(lines) == 12 and lines[-1] == "  ... and 15 more"


def test_risk_changes_and_the_kill_switch_are_sent_at_once() -> None:
    r = Router()
    risk = {"inst": "bybit:XRPUSDT", "from": "NORMAL", "to": "REDUCE_ONLY",
            "reason": "position 1200 > max 1000"}  # fmt: skip
    assert r.on_event("risk_state", risk, T0) == [
        "risk bybit:XRPUSDT: NORMAL -> REDUCE_ONLY (position 1200 > max 1000)"
    ]
    kill = {"inst": "hyperliquid:BTC", "reason": "kill file /tmp/kill present"}
    assert r.on_event("kill_switch", kill, T0) == [
        "KILL SWITCH hyperliquid:BTC: kill file /tmp/kill present"
    ]


def test_a_reconnect_storm_is_n_reconnects_of_one_stream_within_the_window() -> None:
    r = Router(storm_count=3, storm_window_s=60.0)
    pub = {"venue": "bybit", "stream": "public", "reason": "connection lost (code 1006)"}
    # a short session: its disconnect and the backoff after it are one reconnect
    assert r.on_event("ws_disconnected", pub, T0) == []
    assert r.on_event("ws_reconnect_wait", {**pub, "attempt": 1}, T0 + 0.1) == []
    assert r.on_event("ws_reconnect_wait", {**pub, "reason": "connect failed"}, T0 + 1) == []
    # another stream's reconnects count for that stream only
    assert r.on_event("ws_disconnected", {**pub, "stream": "private"}, T0 + 2) == []
    assert r.on_event("ws_reconnect_wait", {**pub, "reason": "connect failed"}, T0 + 3) == [
        "reconnect storm bybit public: 3 reconnects in 60 s (last: connect failed)"
    ]
    # once per window, however long it rages
    assert r.on_event("ws_reconnect_wait", pub, T0 + 4) == []
    # three reconnects spread wider than the window are no storm
    r2 = Router(storm_count=3, storm_window_s=60.0)
    for i in range(6):
        assert r2.on_event("ws_disconnected", pub, T0 + 31 * i) == []
        assert r2.on_event("ws_connected", pub, T0 + 31 * i + 1) == []


def test_recorder_silence_is_down_then_back_and_a_clean_stop_says_so() -> None:
    r = Router(silence_s=60.0)
    assert r.heartbeat("recorder mm.raw.bybit", T0) == []
    assert r.tick(T0 + 60) == []
    assert r.tick(T0 + 61) == ["recorder mm.raw.bybit down: nothing for 61 s"]
    assert r.tick(T0 + 90) == []  # said once
    assert r.heartbeat("recorder mm.raw.bybit", T0 + 100) == [
        "recorder mm.raw.bybit back after 100 s of silence"
    ]
    closed = {"venue": "bybit", "messages": 1200, "gaps": 1, "unknown": 0}
    assert r.on_event("record_closed", closed, T0 + 101) == [
        "recorder stopped (bybit): messages 1200, gaps 1, unknown 0"
    ]
    assert r.tick(T0 + 500) == []  # stopped on purpose: its silence is no outage
    r.heartbeat("recorder mm.raw.hyperliquid", T0)
    assert r.close(T0 + 5) == ["recorder mm.raw.hyperliquid down: the process is exiting"]


def test_an_instrument_change_names_the_fields_that_changed() -> None:
    old = {"symbol": "XRPUSDT", "tick_size": "0.0001", "lot_size": "1", "min_notional": "5"}
    new = {**old, "tick_size": "0.00001", "min_notional": "10"}
    f = {"venue": "bybit", "symbol": "XRPUSDT", "old": old, "new": new}
    assert Router().on_event("instrument_changed", f, T0) == [
        "instrument changed bybit XRPUSDT: min_notional 5 -> 10, tick_size 0.0001 -> 0.00001"
    ]


def test_the_daily_summary_comes_at_utc_midnight_and_again_at_shutdown() -> None:
    r = Router(fill_batch_s=1.0)
    status = {"inst": "bybit:XRPUSDT", "pnl": 1.5, "risk": "NORMAL"}
    r.on_event("status", {**status, "pnl": 0.25}, T0)
    r.on_event("fill", fill("buy", "100", "0.5"), T0 + 1)
    r.on_event("fill", fill("sell", "40", "0.6", maker=False), T0 + 2)
    r.on_event("status", status, T0 + 3)
    out = r.tick(T0 + 60)  # 00:00:00 UTC: the batch, then yesterday's summary
    assert out[1:] == [
        "daily summary 2026-12-01 UTC\n"
        "bybit:XRPUSDT: 2 fills (1 maker), bought 100, sold 40, notional 74, "
        "pnl +1.500000 (run total 1.500000), risk NORMAL"
    ]
    r.on_event("status", {**status, "pnl": 1.0, "risk": "REDUCE_ONLY"}, T0 + 3600)
    assert r.close(T0 + 3601) == [
        "daily summary 2026-12-02 UTC so far (shutdown)\n"
        "bybit:XRPUSDT: 0 fills (0 maker), bought 0, sold 0, notional 0, "
        "pnl -0.500000 (run total 1.000000), risk REDUCE_ONLY"
    ]


def test_the_same_text_within_the_window_is_sent_once_with_a_repeat_count() -> None:
    d = Deduper(window_s=300.0)
    text = "risk bybit:XRPUSDT: NORMAL -> HALTED (loss)"
    assert d.admit(text, T0)
    assert [d.admit(text, T0 + i) for i in (1, 2, 299)] == [False, False, False]
    assert d.admit("something else", T0 + 5)
    assert d.tick(T0 + 299) == []
    assert d.tick(T0 + 300) == [f"(repeated 3x in 300 s) {text}"]
    assert d.admit(text, T0 + 301)  # a new window
    assert d.tick(T0 + 305) == []
    assert d.tick(T0 + 601) == []  # no repeats: nothing to add


def test_malformed_fill_fields_count_as_zero_and_the_message_still_goes() -> None:
    r = Router(fill_batch_s=1.0)
    r.on_event("fill", fill("buy", "NaN", "inf"), T0)
    r.on_event("fill", fill("buy", "2", "0.5"), T0)
    assert r.tick(T0 + 1)[0].split("\n")[0] == (
        "fills bybit:XRPUSDT: 2, bought 2 @ 0.5 avg; position 0"
    )
