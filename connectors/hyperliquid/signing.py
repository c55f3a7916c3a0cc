"""Hyperliquid L1 actions: wire strings, client ids and signatures, in one place.

* Ticks/lots -> Decimal -> wire string happens here and nowhere else. The SDK's
  ``float_to_wire`` goes through a float; we build the string from the exact Decimal
  (plain notation, no trailing zeros, as the venue hashes it) and check that the SDK
  would produce the same string, since the venue re-hashes the action it parses.
* Prices round onto Hyperliquid's grid (<= 5 significant figures, <= 6 - szDecimals
  decimals, integers always valid) AWAY from the touch: bids down, asks up, so rounding
  never makes a post-only quote cross.
* A cloid is 16 bytes derived from the order manager's client id
  ``{prefix}{run_tag}-{n}``: 4 bytes of the prefix's hash, 6 bytes of the base-36 run
  tag, 6 bytes of n. Start-up reconciliation reads "our prefix, another run" straight
  off the cloid of an order it never saw.
* Signing (EIP-712 over the msgpack action hash) is the SDK's ``sign_l1_action``; the
  key stays a SecretStr until the eth_account wallet is built, and nothing here logs.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

from eth_account import Account
from hyperliquid.utils.signing import float_to_wire, sign_l1_action
from pydantic import SecretStr

from core.errors import MMError
from core.events import BID
from core.instruments import InstrumentSpec

ALO: dict[str, Any] = {"limit": {"tif": "Alo"}}  # add-liquidity-only = post-only
GTC: dict[str, Any] = {"limit": {"tif": "Gtc"}}
PRICE_SIG_FIGS = 5
_B36 = "0123456789abcdefghijklmnopqrstuvwxyz"
_CLOID = re.compile(r"^0x[0-9a-f]{32}$")


def wire(value: Decimal) -> str:
    """Exact Decimal -> the venue's string ("1.95", "100000", "0"); never scientific."""
    if not value.is_finite():
        raise MMError(f"{value} is not a finite number")
    text = format(value.normalize(), "f") if value else "0"
    if Decimal(text) != value:
        raise MMError(f"{value} does not survive the wire as {text!r}")
    try:
        sdk = float_to_wire(float(text))  # what the SDK (and the venue's parser) reads
    except ValueError:
        sdk = "<rounded>"
    if sdk != text:
        raise MMError(f"{value} has no exact float wire form (the SDK sends {sdk!r})")
    return text


def price_quantum(price: Decimal, sz_decimals: int) -> Decimal:
    """The grid step at ``price``: 5 significant figures, 6 - szDecimals decimals, 1 at
    most (integer prices are always valid)."""
    sig = Decimal(1).scaleb(price.adjusted() - PRICE_SIG_FIGS + 1)
    return max(Decimal(1).scaleb(-(6 - sz_decimals)), min(sig, Decimal(1)))


def round_price(price: Decimal, side: int, sz_decimals: int) -> Decimal:
    """Onto the grid away from the touch; a bid that rounds to 0 cannot be placed."""
    if price <= 0:
        raise MMError(f"price {price} must be positive")
    q = price_quantum(price, sz_decimals)
    mode = ROUND_FLOOR if side == BID else ROUND_CEILING
    out = (price / q).to_integral_value(rounding=mode) * q
    if out <= 0:
        raise MMError(f"bid {price} rounds down to 0 with szDecimals {sz_decimals}")
    return out


def round_size(size: Decimal, sz_decimals: int) -> Decimal:
    """Sizes floor onto szDecimals (never oversize an order)."""
    return size.quantize(Decimal(1).scaleb(-sz_decimals), rounding=ROUND_FLOOR)


def sz_decimals(spec: InstrumentSpec) -> int:
    """szDecimals of a Hyperliquid spec (its lot is 10^-szDecimals)."""
    return -spec.lot_size.normalize().as_tuple().exponent  # type: ignore[operator]


def price_wire(spec: InstrumentSpec, ticks: int, side: int) -> str:
    return wire(round_price(spec.ticks_to_price(ticks), side, sz_decimals(spec)))


def size_wire(spec: InstrumentSpec, lots: int) -> str:
    return wire(round_size(spec.lots_to_size(lots), sz_decimals(spec)))


# -- client ids <-> cloids ----------------------------------------------------------------
def _b36(text: str) -> int:
    n = 0
    for ch in text:
        n = n * 36 + _B36.index(ch)
    return n


def prefix_bytes(prefix: str) -> str:
    """The cloid's first 8 hex digits: which bot (client id prefix) placed the order."""
    return hashlib.sha256(prefix.encode()).hexdigest()[:8]


def run_bytes(run_tag: str) -> str:
    """The cloid's next 12 hex digits: which run placed it."""
    if not re.fullmatch(r"[0-9a-z]{1,9}", run_tag):
        raise MMError(f"run tag {run_tag!r} must be 1-9 chars of [0-9a-z] (base 36)")
    return f"{_b36(run_tag):012x}"


def cloid_for(client_id: str, prefix: str, run_tag: str) -> str:
    """``{prefix}{run_tag}-{n}`` -> ``0x`` + 32 hex digits (deterministic, so a resend
    of the same place carries the same cloid and cannot make a second order)."""
    head = f"{prefix}{run_tag}-"
    if not client_id.startswith(head) or not client_id[len(head) :].isdigit():
        raise MMError(f"client id {client_id!r} is not {head}<n>")
    n = int(client_id[len(head) :])
    if n >= 1 << 48:
        raise MMError(f"client id {client_id!r}: order number too large for a cloid")
    return f"0x{prefix_bytes(prefix)}{run_bytes(run_tag)}{n:012x}"


def is_cloid(text: str) -> bool:
    return bool(_CLOID.match(text or ""))


class ClientIds:
    """This run's client ids <-> cloids. Decoding needs no memory (the cloid carries
    prefix, run and order number), so the private stream and a restarted process read
    the same answer; ``client_id`` is "" for a cloid that is not this run's."""

    def __init__(self, prefix: str, run_tag: str) -> None:
        self.prefix = prefix
        self.run_tag = run_tag
        self.run_prefix = f"{prefix}{run_tag}-"
        self._bot = "0x" + prefix_bytes(prefix)
        self._run = self._bot + run_bytes(run_tag)
        self._cloids: dict[str, str] = {}  # client id -> cloid (a cache)

    def cloid(self, client_id: str) -> str:
        c = self._cloids.get(client_id)
        if c is None:
            c = self._cloids[client_id] = cloid_for(client_id, self.prefix, self.run_tag)
        return c

    def client_id(self, cloid: str | None) -> str:
        c = (cloid or "").lower()
        if not is_cloid(c) or not c.startswith(self._run):
            return ""
        return f"{self.run_prefix}{int(c[len(self._run) :], 16)}"

    def is_leftover(self, cloid: str | None) -> bool:
        """Our bot's prefix, another run: safe (and right) to cancel at start-up."""
        c = (cloid or "").lower()
        return is_cloid(c) and c.startswith(self._bot) and not c.startswith(self._run)


# -- signing ------------------------------------------------------------------------------
class Signer:
    """Signs L1 actions with the API wallet; nonces are unique and increasing (ms)."""

    def __init__(self, secret_key: SecretStr, is_mainnet: bool) -> None:
        try:
            self._wallet = Account.from_key(secret_key.get_secret_value())
        except Exception:  # the message of a bad key may quote the key: say only what
            raise MMError(
                "HYPERLIQUID_SECRET_KEY is not a valid private key",
                "it must be the API wallet's 32-byte hex key",
            ) from None
        self.is_mainnet = is_mainnet
        self._last_nonce = 0
        self._lock = threading.Lock()  # the gateway and the heartbeat sign on two threads

    def __repr__(self) -> str:
        return f"Signer(address={self.address}, mainnet={self.is_mainnet})"

    @property
    def address(self) -> str:
        """The API wallet's public address (not secret)."""
        return str(self._wallet.address)

    def nonce(self) -> int:
        with self._lock:
            self._last_nonce = max(int(time.time() * 1000), self._last_nonce + 1)
            return self._last_nonce

    def payload(self, action: dict[str, Any], nonce: int | None = None) -> dict[str, Any]:
        """The ``POST /exchange`` body for ``action`` (as the SDK's ``_post_action``)."""
        n = self.nonce() if nonce is None else nonce
        sig = sign_l1_action(self._wallet, action, None, n, None, self.is_mainnet)
        return {"action": action, "nonce": n, "signature": sig, "vaultAddress": None,
                "expiresAfter": None}  # fmt: skip
