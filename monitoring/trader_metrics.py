"""The trader's outputs -> metrics: one observer per instrument, fed by the flow's step.

Both engines (reference and compiled) hand the same ``TraderOutput``s, so everything is
read from them: order rows (actions decided, rejects), "fill" log lines (counted when
they happen; fill *rows* wait for their markouts), PnL rows (position, PnL, fees,
drawdown, risk state), quote rows (toxicity, regime), fill rows (markouts). The market
batch the step was given dates each decision: tick -> decision is now minus the
receive time of the message the decision was made on.
"""

from __future__ import annotations

import math
import time
from decimal import Decimal
from typing import Any

import numpy as np

from core.instruments import split_instrument_id
from monitoring.metrics import MMMetrics, current, safe_label
from operators.trader import FILL_COLUMNS

ACTIONS = frozenset({"place", "amend", "cancel", "cancel_all"})
REJECTED = frozenset({"rejected", "rejected_pretrade"})
# reason class <- words in the reject reason (first match wins); labels never carry text
REASON_CLASSES = (
    ("post_only", ("post-only", "post only", "postonly", "would cross")),
    ("rate_limit", ("backoff", "rate limit", "too many")),
    ("halt", ("halt",)),
    ("not_found", ("not found", "not exist")),
    ("balance", ("balance", "margin", "reduce")),
    ("price_qty", ("price", "qty", "notional", "tick", "lot", "size")),
    ("reconcile", ("reconcile",)),
    ("gateway", ("gateway", "transport")),
)
HORIZONS = (("1s", FILL_COLUMNS.index("mid_1s")), ("5s", FILL_COLUMNS.index("mid_5s")),
            ("30s", FILL_COLUMNS.index("mid_30s")), ("60s", FILL_COLUMNS.index("mid_60s")))  # fmt: skip
F_SIDE, F_PRICE_F = FILL_COLUMNS.index("side"), FILL_COLUMNS.index("price_f")
# PnL row: (recv_ts, seq, position, position_f, mid, cash, realized, unrealized, fees,
#           total, inventory_usd, drawdown, risk_state); quote row: ... regime 12, toxicity 14
P_POS, P_REAL, P_UNREAL, P_FEES, P_TOTAL, P_INV, P_DD, P_RISK = 3, 6, 7, 8, 9, 10, 11, 12
Q_REGIME, Q_TOXICITY = 12, 14


def reject_class(reason: str, pretrade: bool) -> str:
    text = reason.lower()
    for name, words in REASON_CLASSES:
        if any(w in text for w in words):
            return name
    return "pretrade" if pretrade else "other"


class TraderMetrics:
    """Metrics of one instrument's trader; ``observe`` after each step."""

    def __init__(self, metrics: MMMetrics, inst: str, trader: Any) -> None:
        venue, symbol = split_instrument_id(inst)
        self.m = metrics
        self.labels = {"venue": safe_label(venue), "symbol": safe_label(symbol)}
        self.trader = trader
        self.clock_offset_ns = int(getattr(trader, "clock_offset_ns", 0) or 0)
        self.position_limit = metrics.position_limit_usd.labels(**self.labels)
        self.drawdown_limit = metrics.drawdown_limit_usd.labels(**self.labels)
        self._set_limits()
        g = {name: getattr(metrics, name).labels(**self.labels) for name in (
            "position", "inventory_usd", "realized", "unrealized", "total", "fees", "drawdown",
            "risk_state", "toxicity", "regime")}  # fmt: skip
        self.g = g
        self.lag = metrics.message_lag.labels(**self.labels)
        self.decide = metrics.tick_to_decision.labels(**self.labels)

    def observe(self, payload: Any, out: Any, now_ns: int | None = None) -> None:
        now = time.time_ns() if now_ns is None else now_ns
        m, lb = self.m, self.labels
        market = isinstance(payload, np.ndarray) and len(payload) > 0
        if market:
            last = payload[-1]
            if int(last["exch_ts"]) > 0:
                lag = int(last["recv_ts"]) - int(last["exch_ts"]) - self.clock_offset_ns
                self.lag.observe(max(0.0, lag / 1e9))
        decided: set[int] = set()
        for row in out.orders:
            what = row[3]
            if what in ACTIONS:
                m.order_actions.labels(**lb, action=what).inc()
                decided.add(int(row[0]))
            elif what in REJECTED:
                reason = reject_class(str(row[9]), what == "rejected_pretrade")
                m.rejects.labels(**lb, reason=reason).inc()
        if market:
            for t in decided:
                self.decide.observe(max(0.0, (now - t) / 1e9))
        for rec in out.logs:
            if rec.get("event") == "fill":
                self._fill(rec)
        for row in out.fills:
            px = row[F_PRICE_F]
            for horizon, i in HORIZONS:
                mid_h = row[i]
                if px and not math.isnan(mid_h):
                    bps = row[F_SIDE] * (mid_h - px) / px * 1e4
                    m.markout.labels(**lb, horizon=horizon).observe(bps)
        if out.pnl:
            p, g = out.pnl[-1], self.g
            g["position"].set(p[P_POS])
            g["realized"].set(p[P_REAL])
            g["unrealized"].set(p[P_UNREAL])
            g["fees"].set(p[P_FEES])
            g["total"].set(p[P_TOTAL])
            g["inventory_usd"].set(p[P_INV])
            g["drawdown"].set(p[P_DD])
            g["risk_state"].set(p[P_RISK])
            self._set_limits()
        if out.quotes:
            q = out.quotes[-1]
            self.g["regime"].set(q[Q_REGIME])
            self.g["toxicity"].set(q[Q_TOXICITY])

    def _set_limits(self) -> None:
        """From the trader's current parameters (a hot reload may change them)."""
        risk = self.trader.params.risk
        self.position_limit.set(risk.max_position_usd)
        self.drawdown_limit.set(risk.max_drawdown_usd)

    def _fill(self, rec: dict[str, Any]) -> None:
        liq = "maker" if rec.get("maker") else "taker"
        qty, price = Decimal(str(rec["qty"])), Decimal(str(rec["price"]))
        m, lb = self.m, self.labels
        m.fills.labels(**lb, liquidity=liq).inc()
        m.filled_volume.labels(**lb, liquidity=liq).inc(float(qty))
        m.filled_notional.labels(**lb, liquidity=liq).inc(float(qty * price))


_OBSERVERS: dict[str, TraderMetrics] = {}


def observe_step(inst: str, payload: Any, out: Any, trader: Any) -> None:
    """The live flow's hook: record one step's output (a no-op when metrics are off)."""
    metrics = current()
    if metrics is None or trader is None:
        return
    obs = _OBSERVERS.get(inst)
    if obs is None or obs.m is not metrics:
        obs = _OBSERVERS[inst] = TraderMetrics(metrics, inst, trader)
    obs.observe(payload, out)
