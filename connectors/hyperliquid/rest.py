"""Hyperliquid's JSON-over-POST API (``/info``, ``/exchange``) with timeouts and one-line errors.

Every Hyperliquid request is a POST of a JSON body to the API base URL; ``/info`` needs
no signature. The standard library's urllib is enough: one request at a time, no
session state. Failures (refused, timed out, a non-2xx answer, a body that is not JSON)
raise ``HyperliquidTransportError`` with the path and the cause on one line.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from connectors.hyperliquid.config import HyperliquidConfig
from core.errors import MMError


class HyperliquidTransportError(MMError):
    """The request did not get a usable answer (network, HTTP status, not JSON)."""


class HyperliquidRest:
    """POSTs JSON to ``{api_url}{path}`` and returns the decoded answer."""

    def __init__(self, cfg: HyperliquidConfig) -> None:
        self.base_url = cfg.rest_url
        self.timeout_s = cfg.http_timeout_s
        self.calls = 0

    def post(self, path: str, body: dict[str, Any]) -> Any:
        self.calls += 1
        url = f"{self.base_url}{path}"
        req = urllib.request.Request(
            url,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        what = f"Hyperliquid POST {path} {body.get('type') or ''}".rstrip()
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as exc:
            text = exc.read()[:200].decode(errors="replace").replace("\n", " ")
            raise HyperliquidTransportError(f"{what} answered HTTP {exc.code}: {text}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise HyperliquidTransportError(
                f"{what} failed: {reason}", "check HYPERLIQUID_API_URL and the network"
            ) from None
        try:
            return json.loads(raw)
        except ValueError:
            raise HyperliquidTransportError(
                f"{what} answered with a body that is not JSON"
            ) from None

    def info(self, body: dict[str, Any]) -> Any:
        return self.post("/info", body)
