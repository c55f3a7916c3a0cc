"""``POST /info`` and ``POST /exchange`` over one HTTP session, inside the rate budgets.

Every call spends its IP weight (and, for an exchange action, its address requests)
from the HyperliquidLimiter first. HTTP failures become HyperliquidTransportError with
the action of connectors/hyperliquid/errors.py (429 -> backoff, 5xx -> retry); the
JSON answer, success or ``err``, is returned for the gateway to read. Signed bodies are
never logged: they carry the signature.
"""

from __future__ import annotations

import time
from typing import Any

import requests

from connectors.hyperliquid.errors import HyperliquidTransportError, action_for_http
from connectors.hyperliquid.ratelimit import HyperliquidLimiter
from core.log import get_logger
from monitoring.metrics import current as current_metrics

# an exchange action's type -> the order -> ack histogram's action label (Bybit's groups)
ACK_ACTION = {"order": "create", "batchModify": "amend", "modify": "amend",
              "cancel": "cancel", "cancelByCloid": "cancel"}  # fmt: skip

log = get_logger(__name__)


class HyperliquidApi:
    def __init__(
        self, base_url: str, limiter: HyperliquidLimiter | None = None, timeout_s: float = 10.0
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.limiter = limiter or HyperliquidLimiter()
        self.timeout_s = timeout_s
        self._session = requests.Session()

    def __repr__(self) -> str:
        return f"HyperliquidApi(base_url={self.base_url!r})"

    def info(self, body: dict[str, Any]) -> Any:
        self.limiter.acquire_info(str(body.get("type", "")))
        return self._post("/info", body)

    def exchange(self, payload: dict[str, Any], n_orders: int = 1) -> dict[str, Any]:
        self.limiter.acquire_exchange(n_orders)
        sent = time.perf_counter()
        out = self._post("/exchange", payload)
        kind = ACK_ACTION.get(str((payload.get("action") or {}).get("type", "")))
        if kind is not None and (metrics := current_metrics()) is not None:
            metrics.order_ack.labels(venue="hyperliquid", action=kind).observe(
                time.perf_counter() - sent
            )
        if not isinstance(out, dict):
            raise HyperliquidTransportError(f"exchange answered {type(out).__name__}", 200,
                                            action_for_http(500))  # fmt: skip
        return out

    def _post(self, path: str, body: dict[str, Any]) -> Any:
        try:
            resp = self._session.post(self.base_url + path, json=body, timeout=self.timeout_s)
        except requests.RequestException as exc:
            raise HyperliquidTransportError(
                f"{path}: {type(exc).__name__}", None, action_for_http(503)
            ) from None
        if resp.status_code != 200:
            raise HyperliquidTransportError(
                f"{path}: HTTP {resp.status_code} {resp.text[:200]}",
                resp.status_code,
                action_for_http(resp.status_code),
            )
        try:
            return resp.json()
        except ValueError:
            raise HyperliquidTransportError(
                f"{path}: answer is not JSON", 200, action_for_http(500)
            ) from None

    def close(self) -> None:
        self._session.close()
