"""Structured logs: one event per line, never a secret (used by every process and venue).

``event(log, logging.WARNING, "ws_reconnect", venue="bybit", delay_s=1.5)`` writes
``ws_reconnect venue=bybit delay_s=1.5``, or a JSON object per line when
``MM_LOG_FORMAT=json``. The format is built into the message itself so it holds under
any handler the process installs (and under pytest's caplog).

Secrets are kept out twice: nothing logs a key, a signature or a request header, and
every logger obtained here carries a filter that masks any registered secret value
should one slip into a message (including pybit's and websockets' own loggers).
"""

from __future__ import annotations

import json
import logging
import os
import time
from typing import Any

from pydantic import SecretStr

MASK = "***"


class RedactSecrets(logging.Filter):
    """Replaces every registered secret value in a record's final message."""

    def __init__(self) -> None:
        super().__init__("")
        self._secrets: set[str] = set()

    def add(self, value: str) -> None:
        if len(value) >= 4:  # masking tiny strings would mangle ordinary text
            self._secrets.add(value)

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._secrets:
            return True
        try:
            msg = record.getMessage()
        except Exception:  # a broken format string is not ours to fix here
            return True
        hit = False
        for s in self._secrets:
            if s in msg:
                msg = msg.replace(s, MASK)
                hit = True
        if hit:
            record.msg, record.args = msg, None
        return True


_REDACT = RedactSecrets()
# httpx logs each request's URL at INFO: a Telegram URL carries the bot token
_THIRD_PARTY = ("pybit", "pybit._http_manager", "pybit._websocket_stream", "websockets",
                "httpx", "httpcore")  # fmt: skip


def protect(*secrets: SecretStr | str | None) -> None:
    """Register secret values to mask in every connector (and pybit) log line."""
    for s in secrets:
        if s is None:
            continue
        _REDACT.add(s.get_secret_value() if isinstance(s, SecretStr) else s)
    for name in _THIRD_PARTY:
        lg = logging.getLogger(name)
        if _REDACT not in lg.filters:
            lg.addFilter(_REDACT)


def redact(text: str) -> str:
    """``text`` with every registered secret masked (for text that is not a log line)."""
    for s in _REDACT._secrets:
        if s in text:
            text = text.replace(s, MASK)
    return text


def get_logger(name: str) -> logging.Logger:
    lg = logging.getLogger(name)
    if _REDACT not in lg.filters:
        lg.addFilter(_REDACT)
    return lg


def setup_logging(level: int = logging.INFO) -> None:
    """Process-wide: one line per event on stderr, with time and level in text mode
    (in JSON mode each message already is a JSON object, timestamped by ``event``)."""
    root = logging.getLogger()
    if any(getattr(h, "_mm_handler", False) for h in root.handlers):
        return
    handler = logging.StreamHandler()
    handler._mm_handler = True  # type: ignore[attr-defined]
    fmt = "%(message)s" if json_mode() else "%(asctime)s %(levelname)-7s %(message)s"
    handler.setFormatter(logging.Formatter(fmt))
    handler.addFilter(_REDACT)
    root.addHandler(handler)
    root.setLevel(level)
    for name in _THIRD_PARTY:
        logging.getLogger(name).addFilter(_REDACT)
    from monitoring.notify import install_from_env  # late: core must not need it to load

    install_from_env()


def json_mode() -> bool:
    return os.environ.get("MM_LOG_FORMAT", "text").strip().lower() == "json"


def format_event(name: str, fields: dict[str, Any]) -> str:
    if json_mode():
        return json.dumps({"event": name, **fields}, default=str, separators=(",", ":"))
    parts = [name]
    for k, v in fields.items():
        text = str(v)
        if not text or any(c in text for c in ' ="\n'):
            text = json.dumps(text)
        parts.append(f"{k}={text}")
    return " ".join(parts)


def event(logger: logging.Logger, level: int, name: str, **fields: Any) -> None:
    """Log one structured event (cheap no-op when the level is disabled). The name and
    fields also ride on the record, for handlers that act on events (the notifier)."""
    if logger.isEnabledFor(level):
        if json_mode():
            fields = {"ts": time.time_ns(), "level": logging.getLevelName(level), **fields}
        logger.log(level, format_event(name, fields), extra={"mm_event": name, "mm_fields": fields})
