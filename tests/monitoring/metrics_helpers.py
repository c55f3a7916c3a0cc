"""Scraping a flow's metrics endpoint in tests."""

from __future__ import annotations

import socket
import time
import urllib.request
from dataclasses import dataclass
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

# config values a notifier would read: they must never reach a label or a value
SECRET_ENV = {
    "MM_NOTIFY_DISCORD_WEBHOOK": "https://discord.com/api/webhooks/1234/hook-SECRET-abc",
    "MM_NOTIFY_TELEGRAM_TOKEN": "987654:telegram-SECRET-token",
    "MM_NOTIFY_TELEGRAM_CHAT": "-100123456",
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
