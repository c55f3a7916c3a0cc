"""Keys, specs and an in-process transport for the Hyperliquid execution tests.

The keys are throwaway test keys (never funded anywhere). ``InProcessApi`` sends the
gateway's bodies through a JSON round trip into the fake exchange's hooks: the far
side of the HTTP boundary without a socket, for the unit-level gateway tests; the end
to end tests use the fake server (fake_hyperliquid.py) over real HTTP and websockets.
"""

from __future__ import annotations

import json
import time
from typing import Any

from eth_account import Account
from fake_exchange import FakeExchange
from pydantic import SecretStr

from connectors.hyperliquid.api import HyperliquidApi
from connectors.hyperliquid.errors import HyperliquidTransportError, action_for_http
from connectors.hyperliquid.instruments import spec_from_asset
from core.instruments import InstrumentSpec

AGENT_KEY = "0x" + "4c" * 32  # the API wallet the bot signs with
ACCOUNT_KEY = "0x" + "a7" * 32  # the account the API wallet trades for
STRANGER_KEY = "0x" + "5e" * 32  # a key nobody authorised
AGENT = Account.from_key(AGENT_KEY).address
ACCOUNT = Account.from_key(ACCOUNT_KEY).address
COINS = {"BTC": 5, "ETH": 4, "SOL": 2}  # fake_hyperliquid.DEFAULT_UNIVERSE
INST = "hyperliquid:ETH"
TAG = "k2x9q1"


def specs() -> dict[str, InstrumentSpec]:
    return {c: spec_from_asset({"name": c, "szDecimals": d}) for c, d in COINS.items()}


def secret(key: str = AGENT_KEY) -> SecretStr:
    return SecretStr(key)


class FakeClockMs:
    """Seconds-and-ms fake clock shared by the gateway (seconds) and the fake (ms)."""

    def __init__(self, start_s: float | None = None) -> None:
        # starts at the real time: the signer's nonces are real milliseconds
        self.now = time.time() if start_s is None else start_s
        self.slept = 0.0

    def __call__(self) -> float:
        return self.now

    def ms(self) -> int:
        return int(self.now * 1000)

    def sleep(self, s: float) -> None:
        self.now += s
        self.slept += s


class InProcessApi(HyperliquidApi):
    def __init__(self, fake: FakeExchange, **kw: Any) -> None:
        super().__init__("http://in-process", **kw)
        self.fake = fake

    def _post(self, path: str, body: dict[str, Any]) -> Any:
        body = json.loads(json.dumps(body))
        if path == "/info":
            if body.get("type") == "meta":  # the market half's answer, in the real server
                return {"universe": [{"name": c, "szDecimals": d} for c, d in COINS.items()]}
            return json.loads(json.dumps(self.fake.info(body)))
        status, answer = self.fake.exchange(body)
        if status != 200:
            raise HyperliquidTransportError(
                f"{path}: HTTP {status}", status, action_for_http(status)
            )
        return json.loads(json.dumps(answer))


def book(bid: str, ask: str, sz: str = "100") -> list[list[dict[str, Any]]]:
    return [[{"px": bid, "sz": sz, "n": 1}], [{"px": ask, "sz": sz, "n": 1}]]


def trade(side: str, px: str, sz: str, t: int = 0) -> dict[str, Any]:
    return {"coin": "ETH", "side": side, "px": px, "sz": sz, "time": t, "tid": t, "hash": "0x0"}
