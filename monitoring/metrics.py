"""Every metric the system exports, defined once, on one registry per process.

Names start with ``mm_``; labels are ``venue`` and ``symbol`` (+ ``action``, ``reason``,
``liquidity``, ``horizon``, ``stream``, ``group``), and every label value is either one
of a fixed vocabulary or an instrument's venue/symbol, checked against
``LABEL_VALUE``: nothing taken from configuration (URLs, tokens, keys) can become a
label, and every metric value is a count, a price-derived number or a duration.

A process serves its registry on one endpoint (``start_metrics_server``, from
``MM_METRICS_PORT``); ``current()`` is that process's ``MMMetrics`` (None when metrics
are off), so connectors record through it without being handed an object. Tests build
fresh ``MMMetrics`` instances instead of touching the process's.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from core.errors import ConfigError

LABEL_VALUE = re.compile(r"^[A-Za-z0-9_.\-]{1,40}$")  # no ':' or '/': no URL, no bot token
INVALID = "invalid"
VS = ("venue", "symbol")
# tick -> decision is in-process (microseconds to milliseconds); REST round trips are ms to s
FAST_BUCKETS = (1e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 0.01, 0.025, 0.05, 0.1, 0.5)
NET_BUCKETS = (1e-3, 2.5e-3, 5e-3, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
MARKOUT_BUCKETS = (-50.0, -20.0, -10.0, -5.0, -2.0, -1.0, 0.0, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0)


def safe_label(value: str) -> str:
    """``value`` if it looks like a venue/symbol/enum word, else ``"invalid"``."""
    return value if LABEL_VALUE.match(value) else INVALID


# name -> (type, help, labels) of the scrape-time metrics
WATCHED = {
    "mm_ws_reconnects": ("counter", "Websocket reconnects (connects after the first)",
                         ("venue", "symbol", "stream")),
    "mm_book_resyncs": ("counter", "Book resubscribes (gap, stale, bad message, trader's request)", VS),
    "mm_feed_resets": ("counter", "Feed resets: the book is unknown until a snapshot", VS),
    "mm_book_gaps": ("counter", "Update-id gaps seen on the book stream", VS),
    "mm_rate_budget_headroom": ("gauge", "Share of the REST rate budget left now (0..1)",
                                ("venue", "group")),
    "mm_notifications": ("counter", "Operator notifications by outcome (sent, dropped, failed, "
                         "rate_limited); destination 'intake': events dropped before routing",
                         ("destination", "outcome")),
}  # fmt: skip
NOTIFY_OUTCOMES = ("sent", "dropped", "failed", "rate_limited")


def _notify_count(destination: str, outcome: str) -> float:
    """The notifier's counter, read at scrape time (0 without a notifier)."""
    from monitoring.notify import stats  # late: metrics must load without the notifier

    st = stats()
    if destination == "intake":
        return float(st.get("intake_dropped", 0))
    return float((st.get(destination) or {}).get(outcome, 0))


@dataclass(frozen=True)
class Watched:
    """A counter or gauge read at scrape time from an object another thread owns."""

    metric: str
    labels: dict[str, str]
    read: Callable[[], float]


class WatchCollector(Collector):
    """Scrape-time metrics: websocket reconnects, feed resets/resyncs, rate headroom.

    The feeds and the rate limiter already count these on their own threads; reading
    their counters when Prometheus asks costs nothing on the hot path."""

    def __init__(self) -> None:
        # one reader per series: a source rebuilt (recovery, a second flow) replaces its
        # old reader, so a scrape never holds the same series twice
        self.watched: dict[tuple[str, tuple[tuple[str, str], ...]], Watched] = {}

    def add(self, metric: str, labels: dict[str, str], read: Callable[[], float]) -> None:
        safe = {k: safe_label(v) for k, v in labels.items()}
        self.watched[(metric, tuple(sorted(safe.items())))] = Watched(metric, safe, read)

    def collect(self) -> Iterator[Metric]:
        for name, (kind, doc, labels) in WATCHED.items():
            family_type = CounterMetricFamily if kind == "counter" else GaugeMetricFamily
            fam = family_type(name, doc, labels=list(labels))
            for w in self.watched.values():
                if w.metric == name:
                    fam.add_metric([w.labels[k] for k in labels], float(w.read()))
            yield fam


class MMMetrics:
    """The metric definitions and their registry (one per process in production)."""

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        # orders and fills
        self.order_actions = Counter("mm_order_actions", "Order actions decided (place, amend, cancel, cancel_all)", [*VS, "action"], registry=r)  # fmt: skip
        self.rejects = Counter("mm_order_rejects", "Rejected orders, by reason class", [*VS, "reason"], registry=r)  # fmt: skip
        self.fills = Counter("mm_fills", "Fills, by liquidity (maker/taker)", [*VS, "liquidity"], registry=r)  # fmt: skip
        self.filled_volume = Counter("mm_filled_volume", "Filled size in base units", [*VS, "liquidity"], registry=r)  # fmt: skip
        self.filled_notional = Counter("mm_filled_notional", "Filled notional in the quote currency", [*VS, "liquidity"], registry=r)  # fmt: skip
        self.markout = Histogram("mm_fill_markout_bps", "Fill markout in bps (positive: the mid moved our way)", [*VS, "horizon"], buckets=MARKOUT_BUCKETS, registry=r)  # fmt: skip
        # position, PnL, risk (the trader's last PnL row)
        self.position = Gauge("mm_position", "Position in base units (signed)", VS, registry=r)
        self.inventory_usd = Gauge("mm_inventory_usd", "Position value in USD (signed)", VS, registry=r)  # fmt: skip
        self.position_limit_usd = Gauge("mm_position_limit_usd", "Position limit in USD (before regime scaling)", VS, registry=r)  # fmt: skip
        self.drawdown_limit_usd = Gauge("mm_drawdown_limit_usd", "Drawdown that trips the circuit breaker, USD", VS, registry=r)  # fmt: skip
        self.realized = Gauge("mm_realized_pnl", "Realized PnL, settlement currency", VS, registry=r)  # fmt: skip
        self.unrealized = Gauge("mm_unrealized_pnl", "Unrealized PnL at the mid", VS, registry=r)
        self.total = Gauge("mm_total_pnl", "Total PnL (realized + unrealized - fees)", VS, registry=r)  # fmt: skip
        self.fees = Gauge("mm_fees", "Fees paid, net (negative: rebates earned)", VS, registry=r)
        self.drawdown = Gauge("mm_drawdown", "Drawdown from the PnL peak", VS, registry=r)
        self.risk_state = Gauge("mm_risk_state", "Risk state: 0 safe, 1 position limit, 2 circuit break", VS, registry=r)  # fmt: skip
        self.toxicity = Gauge("mm_toxicity_score", "Order-flow toxicity score of the last quote", VS, registry=r)  # fmt: skip
        self.regime = Gauge("mm_regime", "Volatility regime of the last quote (0 calm ...)", VS, registry=r)  # fmt: skip
        # market data
        self.message_lag = Histogram("mm_message_lag_seconds", "Local receive time minus exchange time (after the clock offset)", VS, buckets=NET_BUCKETS, registry=r)  # fmt: skip
        # latency breakdown
        self.tick_to_decision = Histogram("mm_tick_to_decision_seconds", "Market message received -> the trader's order decision", VS, buckets=FAST_BUCKETS, registry=r)  # fmt: skip
        self.decision_to_request = Histogram("mm_decision_to_request_seconds", "Decision handed to the gateway -> its request taken for sending (rate budget waits included)", ["venue"], buckets=NET_BUCKETS, registry=r)  # fmt: skip
        self.order_ack = Histogram("mm_order_ack_seconds", "Order request sent -> the venue's answer", ["venue", "action"], buckets=NET_BUCKETS, registry=r)  # fmt: skip
        # the recorder
        self.recorded = Counter("mm_recorder_messages", "Messages written to Kafka", VS, registry=r)
        self.recorder_lag = Histogram("mm_recorder_lag_seconds", "Receive -> acknowledged by Kafka", ["venue"], buckets=NET_BUCKETS, registry=r)  # fmt: skip
        self.kafka_errors = Counter("mm_recorder_kafka_errors", "Kafka writes that failed", ["venue"], registry=r)  # fmt: skip
        self.watch = WatchCollector()
        r.register(self.watch)
        for dest in ("discord", "telegram"):
            for outcome in NOTIFY_OUTCOMES:
                self.watch.add("mm_notifications", {"destination": dest, "outcome": outcome},
                               partial(_notify_count, dest, outcome))  # fmt: skip
        self.watch.add("mm_notifications", {"destination": "intake", "outcome": "dropped"},
                       partial(_notify_count, "intake", "dropped"))  # fmt: skip

    # -- recording helpers (venue-neutral) -----------------------------------------------
    def watch_ws(self, venue: str, stream: str, symbol: str, ws: Any) -> None:
        """A reconnecting websocket with a ``connects`` counter."""
        self.watch.add("mm_ws_reconnects", {"venue": venue, "symbol": symbol, "stream": stream},
                       lambda: max(0, ws.connects - 1))  # fmt: skip

    def watch_book_feed(self, venue: str, symbol: str, stats: Any) -> None:
        """A book feed's stats (``resubscribes``, ``resets``, ``gaps``)."""
        labels = {"venue": venue, "symbol": symbol}
        self.watch.add("mm_book_resyncs", labels, lambda: stats.resubscribes)
        self.watch.add("mm_feed_resets", labels, lambda: stats.resets)
        self.watch.add("mm_book_gaps", labels, lambda: stats.gaps)

    def watch_rate_budget(self, venue: str, group: str, headroom: Callable[[], float]) -> None:
        self.watch.add("mm_rate_budget_headroom", {"venue": venue, "group": group}, headroom)

    def names(self) -> set[str]:
        """Every series name this registry can export (counters with ``_total``, histograms
        by their base name), for checking dashboards against the code."""
        out: set[str] = set()
        for fam in self.registry.collect():
            out.add(fam.name + "_total" if fam.type == "counter" else fam.name)
        return out


_CURRENT: MMMetrics | None = None


def current() -> MMMetrics | None:
    """This process's metrics, or None when they are off."""
    return _CURRENT


def install(metrics: MMMetrics | None) -> None:
    """Make ``metrics`` this process's (None: off)."""
    global _CURRENT
    _CURRENT = metrics


def metrics_port_from_env(env: dict[str, str] | None = None) -> int:
    """MM_METRICS_PORT: 0 or unset = no endpoint."""
    raw = (os.environ if env is None else env).get("MM_METRICS_PORT", "").strip()
    if not raw:
        return 0
    if not raw.isdigit() or int(raw) > 65535:
        raise ConfigError(f"MM_METRICS_PORT={raw!r} is not a port", "use 1-65535, or 0 for off")
    return int(raw)


def start_metrics_server(port: int, host: str = "127.0.0.1") -> MMMetrics:
    """Serve a fresh registry on http://host:port/metrics and make it the process's."""
    metrics = MMMetrics()
    try:
        start_http_server(port, addr=host, registry=metrics.registry)
    except OSError as exc:
        raise ConfigError(
            f"metrics port {host}:{port} is not available ({exc.strerror or exc})",
            "set MM_METRICS_PORT to a free port, or 0 for off",
        ) from None
    install(metrics)
    return metrics


def start_from_env() -> MMMetrics | None:
    """The process's endpoint from MM_METRICS_PORT / MM_METRICS_HOST (None: off).
    Idempotent: a second flow built in the same process reuses the endpoint."""
    if _CURRENT is not None:
        return _CURRENT
    port = metrics_port_from_env()
    if not port:
        return None
    return start_metrics_server(port, os.environ.get("MM_METRICS_HOST", "127.0.0.1"))
