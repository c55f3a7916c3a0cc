"""Scraping a flow's metrics endpoint in tests."""

from __future__ import annotations

import socket
import time
import urllib.request
from dataclasses import dataclass
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

# the notifier's real settings, pointed at a refused local port: the notifier runs (and
# fails) during the paper run, and neither its URL nor its token may reach the scrape
SECRET_ENV = {
    "MM_DISCORD_WEBHOOK_URL": "http://127.0.0.1:9/api/webhooks/1234/hook-SECRET-abc",
    "MM_TELEGRAM_BOT_TOKEN": "987654:telegram-SECRET-token",
    "MM_TELEGRAM_CHAT_ID": "-100123456",
    "MM_TELEGRAM_API_URL": "http://127.0.0.1:9",
}


@dataclass
class Scrape:
    text: str
    t0_ns: int  # just before the request
    t1_ns: int  # just after the answer

    def samples(self) -> list[tuple[str, dict[str, str], float]]:
        return [
            (s.name, dict(s.labels), s.value)
            for fam in text_string_to_metric_families(self.text)
            for s in fam.samples
        ]

    def value(self, name: str, **labels: str) -> float:
        """The sum of ``name``'s samples whose labels include ``labels`` (0 if none)."""
        return sum(
            v
            for n, lb, v in self.samples()
            if n == name and all(lb.get(k) == x for k, x in labels.items())
        )


@dataclass
class MetricsRun:
    run: Any  # live_helpers.Run
    scrape: Scrape
    port: int


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def scrape(port: int) -> Scrape:
    t0 = time.time_ns()
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    return Scrape(text, t0, time.time_ns())
