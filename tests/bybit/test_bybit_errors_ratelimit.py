"""Error-code table and the rate limiter (on an injected clock: no sleeping)."""

from __future__ import annotations

from pathlib import Path

import pytest
from bybit_helpers import FakeClock

from connectors.bybit.errors import (
    ERROR_TABLE,
    ErrorAction,
    action_for,
    action_for_http,
    action_of_reason,
    markdown_table,
    reject_reason,
)
from connectors.bybit.ratelimit import RateLimiter

DOC = Path(__file__).resolve().parents[2] / "docs" / "bybit-errors.md"

REQUIRED = {
    10001: ErrorAction.HALT,
    10002: ErrorAction.RESYNC,
    10003: ErrorAction.HALT,
    10004: ErrorAction.HALT,
    10006: ErrorAction.BACKOFF,
    110001: ErrorAction.RECONCILE,
    110007: ErrorAction.REDUCE,
    110017: ErrorAction.RECONCILE,
}


@pytest.mark.parametrize(("code", "action"), sorted(REQUIRED.items()))
def test_required_codes_have_their_action(code: int, action: ErrorAction) -> None:
    assert code in ERROR_TABLE
    assert action_for(code) == action


def test_every_code_maps_to_exactly_one_action_and_unknown_halts() -> None:
    assert all(isinstance(r.action, ErrorAction) for r in ERROR_TABLE.values())
    assert action_for(999_999) == ErrorAction.HALT
    assert action_for_http(403) == ErrorAction.HALT  # IP ban: venue says wait >= 10 min
    assert action_for_http(503) == ErrorAction.RETRY
    assert action_for_http(599) == ErrorAction.RETRY  # unlisted 5xx is transient


def test_reject_reason_starts_with_the_action() -> None:
    r = reject_reason(110007, "Available balance is insufficient")
    assert r.startswith("reduce: ") and "110007" in r
    assert action_of_reason(r) == ErrorAction.REDUCE
    gone = reject_reason(110001, "Order does not exist.")
    assert gone.startswith("reconcile: order not found")  # the order manager drops it
    assert action_of_reason("post-only would take liquidity") is None


def test_docs_table_matches_the_code() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert markdown_table() in text
    for code, action in REQUIRED.items():
        assert f"| {code} |" in text and f"| {action.value} |" in text


def test_bucket_spends_and_refills_on_the_clock(clock: FakeClock) -> None:
    rl = RateLimiter({"create": 10}, clock=clock, sleep=clock.sleep)
    assert rl.acquire("create", 10) == 0.0  # a full bucket: no wait
    # empty now; 5 tokens at 10/s take 0.5 s
    assert rl.wait_time("create", 5) == pytest.approx(0.5)
    assert rl.acquire("create", 5) == pytest.approx(0.5)
    assert clock.sleeps == [pytest.approx(0.5)]


def test_limit_headers_resize_and_cap_the_bucket(clock: FakeClock) -> None:
    rl = RateLimiter({"create": 10}, clock=clock, sleep=clock.sleep)
    rl.on_headers("create", limit=20, remaining=3, reset_ms=int(clock() * 1000))
    assert rl.capacity("create") == 20
    assert rl.wait_time("create", 3) == 0.0
    # 4 tokens needed, 3 left, rate now 20/s: 1/20 s
    assert rl.wait_time("create", 4) == pytest.approx(0.05)


def test_rate_limited_blocks_until_the_reset_header(clock: FakeClock) -> None:
    rl = RateLimiter({"create": 10}, clock=clock, sleep=clock.sleep)
    reset_ms = int(clock() * 1000) + 1_250
    block = rl.on_rate_limited("create", reset_ms)
    assert block == pytest.approx(1.25, abs=1e-3)
    waited = rl.acquire("create", 1)
    assert waited == pytest.approx(1.25, abs=1e-3)
    assert clock() >= reset_ms / 1000  # never earlier than the venue's reset
    # other groups are not blocked
    assert rl.wait_time("cancel", 1) == 0.0


def test_exhausted_status_header_blocks_until_reset(clock: FakeClock) -> None:
    rl = RateLimiter({"amend": 10}, clock=clock, sleep=clock.sleep)
    reset_ms = int(clock() * 1000) + 400
    rl.on_headers("amend", limit=10, remaining=0, reset_ms=reset_ms)
    assert rl.wait_time("amend", 1) == pytest.approx(0.4, abs=1e-3)
