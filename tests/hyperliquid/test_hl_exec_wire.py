"""Wire strings, price/size rounding, cloids, error and rate-limit tables (pure, fast)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hl_exec_helpers import AGENT, AGENT_KEY, FakeClockMs, secret, specs

from connectors.bybit.errors import ErrorAction
from connectors.hyperliquid import signing
from connectors.hyperliquid.errors import action_for, action_for_http, reject_reason
from connectors.hyperliquid.ratelimit import HyperliquidLimiter
from core.errors import MMError
from core.events import ASK, BID

# (price, szDecimals, bid rounds to, ask rounds to); None: a bid that rounds to 0
ROUNDING = [
    ("0.0001", 0, "0.0001", "0.0001"),
    ("0.0001", 3, None, "0.001"),
    ("0.0001", 5, None, "0.1"),
    ("0.00123456", 0, "0.001234", "0.001235"),
    ("0.00123456", 2, "0.0012", "0.0013"),
    ("0.0123456", 0, "0.012345", "0.012346"),
    ("0.0123456", 1, "0.01234", "0.01235"),
    ("0.0123456", 4, "0.01", "0.02"),
    ("0.0123456", 5, None, "0.1"),
    ("0.99999", 1, "0.99999", "0.99999"),
    ("0.99999", 2, "0.9999", "1"),
    ("0.999995", 0, "0.99999", "1"),
    ("1.234567", 0, "1.2345", "1.2346"),
    ("1.234567", 3, "1.234", "1.235"),
    ("1.234567", 5, "1.2", "1.3"),
    ("2.5", 5, "2.5", "2.5"),
    ("12.34567", 1, "12.345", "12.346"),
    ("123.4567", 2, "123.45", "123.46"),
    ("1234.567", 4, "1234.5", "1234.6"),
    ("1234.567", 5, "1234.5", "1234.6"),
    ("12345.67", 0, "12345", "12346"),
    ("12345.67", 5, "12345", "12346"),
    ("99999.5", 3, "99999", "100000"),
    ("100000", 0, "100000", "100000"),
    ("100000", 5, "100000", "100000"),
]


def _valid(text: str, sz: int) -> bool:
    """The venue's rule, read off the string: integers always; else <= 5 significant
    figures and <= 6 - szDecimals decimals."""
    if "." not in text:
        return int(text) > 0
    whole, frac = text.split(".")
    digits = (whole.lstrip("0") + frac).lstrip("0") if whole.strip("0") == "" else whole + frac
    return len(frac) <= 6 - sz and len(digits.rstrip("0") if whole.strip("0") else digits) <= 5


@pytest.mark.parametrize(("price", "sz", "bid", "ask"), ROUNDING)
def test_price_rounds_away_from_the_touch_onto_the_grid(
    price: str, sz: int, bid: str | None, ask: str
) -> None:
    p = Decimal(price)
    got_ask = signing.wire(signing.round_price(p, ASK, sz))
    assert got_ask == ask and Decimal(got_ask) >= p and _valid(got_ask, sz)
    if bid is None:
        with pytest.raises(MMError, match="rounds down to 0"):
            signing.round_price(p, BID, sz)
        return
    got_bid = signing.wire(signing.round_price(p, BID, sz))
    assert got_bid == bid and Decimal(got_bid) <= p and _valid(got_bid, sz)


def test_every_szdecimals_and_decade_gives_valid_wire_prices() -> None:
    """A sweep over szDecimals 0..5 and prices 0.0001 .. 100,000: every rounded price is
    valid, on the right side, and no valid price lies between it and the input."""
    for sz in range(6):
        for exp in range(-4, 6):
            for mant in ("1", "1.00001", "3.14159265", "9.999999"):
                p = Decimal(mant).scaleb(exp)
                if p > 100_000:
                    continue
                for side in (BID, ASK):
                    try:
                        out = signing.round_price(p, side, sz)
                    except MMError:
                        assert side == BID and p < Decimal(1).scaleb(-(6 - sz))
                        continue
                    text = signing.wire(out)
                    assert _valid(text, sz), (p, sz, side, text)
                    assert (out <= p) if side == BID else (out >= p)
                    step = signing.price_quantum(out, sz)
                    inner = out + step if side == BID else out - step
                    assert (inner > p) if side == BID else (inner < p or inner <= 0)


def test_wire_is_exact_plain_and_what_the_sdk_would_send() -> None:
    assert signing.wire(Decimal("1.9500")) == "1.95"
    assert signing.wire(Decimal("1E+5")) == "100000"
    assert signing.wire(Decimal("0.000001")) == "0.000001"
    assert signing.wire(Decimal("0")) == "0"
    with pytest.raises(MMError, match="no exact float wire form"):
        signing.wire(Decimal("0.123456789"))  # the SDK keeps 8 decimals: it would differ
    sp = specs()["ETH"]  # szDecimals 4: tick 0.01, lot 0.0001
    assert signing.price_wire(sp, 312345, BID) == "3123.4"  # 3123.45 -> 5 sig figs, down
    assert signing.price_wire(sp, 312345, ASK) == "3123.5"
    assert signing.size_wire(sp, 12345) == "1.2345"


def test_cloids_are_deterministic_and_say_whose_run() -> None:
    ids = signing.ClientIds("mm", "k2x9q1")
    c = ids.cloid("mmk2x9q1-42")
    assert signing.is_cloid(c) and c == ids.cloid("mmk2x9q1-42") and len(c) == 34
    assert ids.client_id(c) == "mmk2x9q1-42"
    other_run = signing.ClientIds("mm", "k2x9q2").cloid("mmk2x9q2-42")
    other_bot = signing.ClientIds("zz", "k2x9q1").cloid("zzk2x9q1-42")
    assert ids.client_id(other_run) == "" and ids.is_leftover(other_run)
    assert ids.client_id(other_bot) == "" and not ids.is_leftover(other_bot)
    assert not ids.is_leftover(c) and not ids.is_leftover(None)
    with pytest.raises(MMError, match="is not mmk2x9q1-<n>"):
        ids.cloid("mmk2x9q2-1")


def test_signer_never_shows_its_key() -> None:
    s = signing.Signer(secret(), is_mainnet=False)
    assert s.address == AGENT and AGENT_KEY[2:] not in repr(s)
    with pytest.raises(MMError, match="not a valid private key") as err:
        signing.Signer(secret("0x1234"), is_mainnet=False)
    assert "1234" not in str(err.value)


@pytest.mark.parametrize(
    ("text", "action", "reason_starts"),
    [
        ("Post only order would have immediately matched, bbo was 1@2. asset=1", None, "post-only: would cross"),
        ("Order was never placed, already canceled, or filled. asset=0", ErrorAction.RECONCILE, "reconcile: order not found"),
        ("Cannot modify canceled or filled order", ErrorAction.RECONCILE, "reconcile: order not found"),
        ("Insufficient margin to place order. asset=1", ErrorAction.REDUCE, "reduce: insufficient margin"),
        ("Too many cumulative requests sent (10001 > 10000) for cumulative volume traded $0.", ErrorAction.BACKOFF, "backoff:"),
        ("User or API Wallet 0xabc does not exist.", ErrorAction.HALT, "halt: unknown user or API wallet"),
        ("Something nobody has seen", ErrorAction.HALT, "halt: unknown error"),
    ],
)  # fmt: skip
def test_error_texts_map_to_one_action(
    text: str, action: ErrorAction | None, reason_starts: str
) -> None:
    if action is not None:
        assert action_for(text) == action
    assert reject_reason(text).startswith(reason_starts) and text in reject_reason(text)


def test_http_statuses() -> None:
    assert action_for_http(429) == ErrorAction.BACKOFF
    assert action_for_http(502) == ErrorAction.RETRY
    assert action_for_http(422) == ErrorAction.HALT


def test_rate_budgets_ip_weight_and_address_allowance() -> None:
    clock = FakeClockMs()
    lim = HyperliquidLimiter(clock, clock.sleep, ip_per_min=1200, address_allowance=100)
    lim.acquire_exchange(79)  # weight 1 + 79 // 40 = 2; 79 address requests
    lim.acquire_info("l2Book")  # weight 2
    lim.acquire_info("frontendOpenOrders")  # weight 20
    assert lim.headroom() == {"ip_weight": 1176.0, "address_requests": 21.0}
    assert lim.wait_time("create", 21) == 0 and lim.wait_time("create", 22) > 0
    lim.acquire_exchange(21)
    # allowance spent: one request per 10 s
    assert lim.acquire_exchange(1) == pytest.approx(10.0)
    lim.on_traded(Decimal("50.7"))  # 50 more requests for 50.7 USDC traded
    assert lim.headroom()["address_requests"] == pytest.approx(50.0)
    lim.on_rate_limited("ip")  # a 429: the IP bucket is blocked for a while
    assert lim.wait_time("cancel", 1) == pytest.approx(10.0)
    lim.on_user_rate_limit(used=9_000, cap=10_000)
    assert lim.headroom()["address_requests"] == 1000.0


def test_the_docs_carry_the_error_table() -> None:
    from pathlib import Path

    from connectors.hyperliquid.errors import markdown_table

    doc = Path(__file__).resolve().parents[2] / "docs" / "hyperliquid-live.md"
    assert markdown_table() in doc.read_text()
