"""A fake Discord webhook + Telegram Bot API on 127.0.0.1 (``http.server`` in a thread).

Real formats: ``POST /api/webhooks/<id>/<token>`` takes ``{"content"}`` (<= 2000 chars)
and answers 204; ``POST /bot<token>/sendMessage`` takes ``{"chat_id", "text"}`` (<= 4096)
and answers ``{"ok": true, "result": {...}}``. Rate limits as the real ones answer them:
Discord 429 ``{"message", "retry_after": float, "global"}`` + ``Retry-After``; Telegram
429 ``{"ok": false, "error_code": 429, "parameters": {"retry_after": int}}``.

Behaviour per test: ``limit`` (at most ``count`` requests per ``window_s``, sliding,
else 429), ``script`` (the next answers, e.g. ``[429]``), ``mode`` ``"ok" | "500" |
"hang"`` (``api_modes`` per API; a 500 echoes the request path in its body, as some
proxies do: a client must not log it unredacted). ``requests`` records every call; ``refused_url()`` is a port nobody listens on.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

DISCORD_TOKEN = "dWbHk-sEcReT-7f3a9c"
TELEGRAM_TOKEN = "123456:AAH-tElEgRaM-sEcReT-42"
CHAT_ID = "-100777"


@dataclass
class Request:
    at: float  # time.monotonic()
    api: str  # "discord" | "telegram"
    path: str
    body: dict[str, Any]
    status: int = 0


@dataclass
class FakeNotify:
    limit: tuple[int, float] | None = None
    mode: str = "ok"
    api_modes: dict[str, str] = field(default_factory=dict)  # per API, over ``mode``
    discord_retry_after: float = 0.3
    telegram_retry_after: int = 1
    script: dict[str, list[int]] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.lock = threading.Lock()
        self.release = threading.Event()  # ends every hanging request
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                n = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(n)
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    body = {}
                status, headers, answer = fake.answer(self.path, body)
                if status == 0:  # hang until the test ends
                    fake.release.wait(30)
                    return
                data = b"" if answer is None else json.dumps(answer).encode()
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.discord_url = f"{self.url}/api/webhooks/4242/{DISCORD_TOKEN}"

    def __enter__(self) -> FakeNotify:
        threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    def env(self) -> dict[str, str]:
        return {"MM_DISCORD_WEBHOOK_URL": self.discord_url, "MM_TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN,
                "MM_TELEGRAM_CHAT_ID": CHAT_ID, "MM_TELEGRAM_API_URL": self.url}  # fmt: skip

    def texts(self, api: str) -> list[str]:
        key = "content" if api == "discord" else "text"
        with self.lock:
            return [r.body.get(key, "") for r in self.requests if r.api == api and r.status < 300]

    def wait_for(self, what: str, cond: Any, timeout: float = 10.0) -> None:
        end = time.monotonic() + timeout
        while not cond():
            if time.monotonic() > end:
                raise AssertionError(f"fake notify: timed out waiting for {what}")
            time.sleep(0.01)

    # -- the protocol ----------------------------------------------------------------
    def answer(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, str], Any]:
        if path == f"/api/webhooks/4242/{DISCORD_TOKEN}":
            api = "discord"
        elif path == f"/bot{TELEGRAM_TOKEN}/sendMessage":
            api = "telegram"
        elif path.startswith("/bot"):
            return 401, {}, {"ok": False, "error_code": 401, "description": "Unauthorized"}
        else:
            return 404, {}, {"message": "Unknown Webhook", "code": 10015}
        now = time.monotonic()
        with self.lock:
            req = Request(now, api, path, body)
            self.requests.append(req)
            scripted = self.script.get(api) or []
            forced = scripted.pop(0) if scripted else None
            recent = [r for r in self.requests if r.api == api and r.status != 429]
            if self.limit is not None:
                count, window = self.limit
                recent = [r for r in recent[:-1] if now - r.at < window]
                if len(recent) >= count:
                    forced = 429
            req.status = self._status(api, body, forced)
            status = req.status
        if status == 0:
            return 0, {}, None
        if status == 500:
            return 500, {}, {"error": f"upstream failed for {path}"}
        if status == 429:
            if api == "discord":
                wait = self.discord_retry_after
                return 429, {"Retry-After": str(max(1, round(wait)))}, {
                    "message": "You are being rate limited.", "retry_after": wait, "global": False}  # fmt: skip
            wait_i = self.telegram_retry_after
            return 429, {}, {"ok": False, "error_code": 429, "parameters": {"retry_after": wait_i},
                             "description": f"Too Many Requests: retry after {wait_i}"}  # fmt: skip
        if status == 400:
            if api == "discord":
                return 400, {}, {"message": "Invalid Form Body", "code": 50035}
            return 400, {}, {"ok": False, "error_code": 400,
                             "description": "Bad Request: message is too long"}  # fmt: skip
        if api == "discord":
            return 204, {}, None
        return 200, {}, {"ok": True, "result": {"message_id": len(self.requests),
                                                "text": body.get("text")}}  # fmt: skip

    def _status(self, api: str, body: dict[str, Any], forced: int | None) -> int:
        if forced is not None:
            return forced
        mode = self.api_modes.get(api, self.mode)
        if mode == "hang":
            return 0
        if mode == "500":
            return 500
        if api == "discord":
            text = body.get("content")
            ok = isinstance(text, str) and 0 < len(text) <= 2000
        else:
            text = body.get("text")
            ok = body.get("chat_id") == CHAT_ID and isinstance(text, str) and 0 < len(text) <= 4096
        return (204 if api == "discord" else 200) if ok else 400


def refused_url() -> str:
    """A URL on a local port nobody listens on (connect: refused at once)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}"
