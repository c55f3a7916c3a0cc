"""Where notifications go, and each one's wire protocol: Discord webhooks, Telegram bots.

A destination turns a text into one HTTP POST and reads a 429 answer's wait. It holds
its credential as ``SecretStr`` and names it to nobody: ``repr`` shows only the kind,
and ``secrets()`` lists what the sender must mask in any error text (an httpx error
quotes the full URL, and both URLs carry the credential).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx
from pydantic import SecretStr

from core.log import MASK


@dataclass(frozen=True)
class Destination:
    name: str
    max_chars: int  # the API refuses a longer message
    rate_per_s: float  # sustained requests per second the API tolerates
    burst: int

    def request(self, text: str) -> tuple[str, dict[str, Any]]:
        raise NotImplementedError

    def secrets(self) -> tuple[str, ...]:
        raise NotImplementedError

    def retry_after_s(self, resp: httpx.Response) -> float:
        """How long a 429 answer asks us to wait (the body first, then Retry-After)."""
        try:
            body = resp.json()
        except ValueError:
            body = None
        wait = self._body_retry_after(body) if isinstance(body, dict) else None
        if wait is None:
            try:
                wait = float(resp.headers.get("Retry-After", "1"))
            except ValueError:
                wait = 1.0
        return max(0.0, float(wait))

    def _body_retry_after(self, body: dict[str, Any]) -> float | None:
        raise NotImplementedError

    def redact(self, text: str) -> str:
        for s in self.secrets():
            if s:
                text = text.replace(s, MASK)
        return text


@dataclass(frozen=True)
class Discord(Destination):
    """``POST <webhook> {"content": ...}``: 204 on success; 429 with JSON
    ``{"retry_after": seconds, "global": bool}``. Mentions are disabled: a fill line
    must never ping ``@everyone``."""

    webhook_url: SecretStr = field(default=SecretStr(""), repr=False)
    name: str = "discord"
    max_chars: int = 2000
    # Discord allows 5 requests per 2 s per webhook; a bucket keeps within any 2 s
    # window when burst + 2 s * rate <= 5 (waiting texts are packed into one message)
    rate_per_s: float = 2.0
    burst: int = 1

    def request(self, text: str) -> tuple[str, dict[str, Any]]:
        body = {"content": text, "allowed_mentions": {"parse": []}}
        return self.webhook_url.get_secret_value(), body

    def secrets(self) -> tuple[str, ...]:
        return (self.webhook_url.get_secret_value(),)

    def _body_retry_after(self, body: dict[str, Any]) -> float | None:
        v = body.get("retry_after")
        return float(v) if isinstance(v, (int, float)) else None


@dataclass(frozen=True)
class Telegram(Destination):
    """``POST {api}/bot<token>/sendMessage {"chat_id", "text"}`` (plain text: no parse
    mode, so no character in a reason can break the message); 429 answers
    ``{"ok": false, "error_code": 429, "parameters": {"retry_after": seconds}}``."""

    bot_token: SecretStr = field(default=SecretStr(""), repr=False)
    chat_id: str = ""
    api_url: str = "https://api.telegram.org"
    name: str = "telegram"
    max_chars: int = 4096
    # Telegram: about one message per second per chat, 20 per minute in a group:
    # burst + 60 s * rate <= 20
    rate_per_s: float = 0.3
    burst: int = 2

    def request(self, text: str) -> tuple[str, dict[str, Any]]:
        url = f"{self.api_url.rstrip('/')}/bot{self.bot_token.get_secret_value()}/sendMessage"
        body = {"chat_id": self.chat_id, "text": text, "disable_web_page_preview": True}
        return url, body

    def secrets(self) -> tuple[str, ...]:
        return (self.bot_token.get_secret_value(),)

    def _body_retry_after(self, body: dict[str, Any]) -> float | None:
        params = body.get("parameters")
        v = params.get("retry_after") if isinstance(params, dict) else None
        return float(v) if isinstance(v, (int, float)) else None
