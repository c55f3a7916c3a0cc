"""From structured log events to operator messages: what is worth a phone buzzing.

Pure logic on an injected clock (seconds since the epoch, UTC), so every rule is tested
without threads or sockets. ``on_event`` takes one event, ``tick`` runs the timers
(fill batches, heartbeats, the UTC day), ``close`` says the last word at shutdown; all
return the texts to send. Event names are the trader's and the connectors' own
(``core.log.event``), venue-neutral: ``inst`` is ``venue:SYMBOL``, ``venue`` names the
connector.

* ``fill``: batched per instrument, one message per ``fill_batch_s``.
* ``risk_state``, ``kill_switch``: one message each, at once.
* ``ws_disconnected`` / ``ws_reconnect_wait``: a storm is ``storm_count`` reconnects of
  one stream within ``storm_window_s`` (a backoff right after a disconnect is the same
  reconnect, counted once).
* ``record_closed`` and heartbeats (``heartbeat(name)``, e.g. the recorder's sink):
  silence past ``silence_s`` is "down", the next beat is "back".
* ``instrument_changed``: the fields that changed.
* ``status`` (PnL, risk state) and fills feed the daily summary, sent at the UTC
  midnight rollover and at shutdown.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

MAX_FILL_LINES = 10
RECONNECT_EVENTS = frozenset({"ws_disconnected", "ws_reconnect_wait", "ws_connected"})
ROUTED_EVENTS = frozenset(
    {"fill", "risk_state", "kill_switch", "record_closed", "instrument_changed", "status"}
    | RECONNECT_EVENTS
)


def _dec(v: Any) -> Decimal:
    """A finite Decimal, or 0: a malformed field must not cost the whole message."""
    try:
        d = Decimal(str(v))
    except (InvalidOperation, ValueError):
        return Decimal(0)
    return d if d.is_finite() else Decimal(0)


def _fmt(d: Decimal) -> str:
    """A Decimal without exponent or trailing zeros (``1E+2`` reads as ``100``)."""
    return format(d.normalize(), "f")


def _utc_day(now: float) -> str:
    return datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%d")


@dataclass
class _FillBatch:
    due: float
    fills: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _Day:
    fills: int = 0
    maker: int = 0
    bought: Decimal = Decimal(0)
    sold: Decimal = Decimal(0)
    notional: Decimal = Decimal(0)
    pnl_base: float = 0.0  # the cumulative PnL when the day began
    pnl_last: float | None = None
    risk: str | None = None


@dataclass
class _Beat:
    last: float
    down: bool = False


class Router:
    def __init__(
        self,
        fill_batch_s: float = 10.0,
        storm_count: int = 5,
        storm_window_s: float = 60.0,
        silence_s: float = 60.0,
    ) -> None:
        self.fill_batch_s = fill_batch_s
        self.storm_count = storm_count
        self.storm_window_s = storm_window_s
        self.silence_s = silence_s
        self._batches: dict[str, _FillBatch] = {}
        self._reconnects: dict[str, deque[float]] = {}
        self._after_disconnect: set[str] = set()
        self._storm_until: dict[str, float] = {}
        self._beats: dict[str, _Beat] = {}
        self._day: str | None = None
        self._days: dict[str, _Day] = {}

    # -- inputs ------------------------------------------------------------------------
    def on_event(self, name: str, f: dict[str, Any], now: float) -> list[str]:
        out = self._rollover(now)
        if name == "fill":
            self._on_fill(f, now)
        elif name == "status":
            self._on_status(f)
        elif name == "risk_state":
            reason = f" ({f['reason']})" if f.get("reason") else ""
            out.append(f"risk {f.get('inst')}: {f.get('from')} -> {f.get('to')}{reason}")
        elif name == "kill_switch":
            out.append(f"KILL SWITCH {f.get('inst')}: {f.get('reason') or 'no reason given'}")
        elif name in RECONNECT_EVENTS:
            out += self._on_reconnect(name, f, now)
        elif name == "record_closed":
            self._beats.clear()  # a clean stop: its silence is no outage
            counts = ", ".join(
                f"{k} {v}" for k, v in f.items() if k not in ("venue", "ts", "level")
            )
            out.append(f"recorder stopped ({f.get('venue')}): {counts}")
        elif name == "instrument_changed":
            out.append(self._instrument_changed(f))
        return out

    def heartbeat(self, name: str, now: float) -> list[str]:
        beat = self._beats.get(name)
        if beat is None:
            self._beats[name] = _Beat(now)
            return []
        out = []
        if beat.down:
            out.append(f"{name} back after {now - beat.last:.0f} s of silence")
            beat.down = False
        beat.last = now
        return out

    def tick(self, now: float) -> list[str]:
        out = []
        for inst in [i for i, b in self._batches.items() if now >= b.due]:
            out.append(self._fill_text(inst, self._batches.pop(inst).fills))
        out += self._rollover(now)  # after the batches: yesterday's fills come first
        for name, beat in self._beats.items():
            if not beat.down and now - beat.last > self.silence_s:
                beat.down = True
                out.append(f"{name} down: nothing for {now - beat.last:.0f} s")
        return out

    def close(self, now: float) -> list[str]:
        """Shutdown: pending fills, a heartbeat still alive, today's summary so far."""
        out = self._rollover(now)
        for inst, b in sorted(self._batches.items()):
            out.append(self._fill_text(inst, b.fills))
        self._batches.clear()
        for name, beat in self._beats.items():
            if not beat.down:
                out.append(f"{name} down: the process is exiting")
        self._beats.clear()
        summary = self._summary(" so far (shutdown)")
        if summary:
            out.append(summary)
        return out

    # -- fills ---------------------------------------------------------------------------
    def _on_fill(self, f: dict[str, Any], now: float) -> None:
        inst = str(f.get("inst"))
        batch = self._batches.get(inst)
        if batch is None:
            batch = self._batches[inst] = _FillBatch(now + self.fill_batch_s)
        batch.fills.append(f)
        day = self._days.setdefault(inst, _Day())
        qty, price = _dec(f.get("qty")), _dec(f.get("price"))
        day.fills += 1
        day.maker += bool(f.get("maker"))
        if f.get("side") == "buy":
            day.bought += qty
        else:
            day.sold += qty
        day.notional += qty * price

    def _fill_text(self, inst: str, fills: list[dict[str, Any]]) -> str:
        sides = []
        for side, verb in (("buy", "bought"), ("sell", "sold")):
            mine = [f for f in fills if f.get("side") == side]
            qty = sum((_dec(f.get("qty")) for f in mine), Decimal(0))
            if qty:
                notional = sum(
                    (_dec(f.get("qty")) * _dec(f.get("price")) for f in mine), Decimal(0)
                )
                places = max(-_dec(f.get("price")).normalize().as_tuple().exponent for f in mine)
                avg = (notional / qty).quantize(Decimal(1).scaleb(-max(places, 0) - 2))
                sides.append(f"{verb} {_fmt(qty)} @ {_fmt(avg)} avg")
        head = (
            f"fills {inst}: {len(fills)}, {', '.join(sides)}; position {fills[-1].get('position')}"
        )
        lines = [head]
        for f in fills[:MAX_FILL_LINES]:
            role = "maker" if f.get("maker") else "taker"
            lines.append(f"  {f.get('side')} {f.get('qty')} @ {f.get('price')} {role}")
        if len(fills) > MAX_FILL_LINES:
            lines.append(f"  ... and {len(fills) - MAX_FILL_LINES} more")
        return "\n".join(lines)

    # -- reconnect storms --------------------------------------------------------------
    def _on_reconnect(self, name: str, f: dict[str, Any], now: float) -> list[str]:
        key = f"{f.get('venue')} {f.get('stream')}"
        if name == "ws_connected":
            self._after_disconnect.discard(key)
            return []
        if name == "ws_reconnect_wait" and key in self._after_disconnect:
            self._after_disconnect.discard(key)  # the backoff after that same disconnect
            return []
        if name == "ws_disconnected":
            self._after_disconnect.add(key)
        times = self._reconnects.setdefault(key, deque())
        times.append(now)
        while times and now - times[0] > self.storm_window_s:
            times.popleft()
        if len(times) < self.storm_count or now < self._storm_until.get(key, 0.0):
            return []
        self._storm_until[key] = now + self.storm_window_s
        reason = f.get("reason")
        last = f" (last: {reason})" if reason else ""
        return [f"reconnect storm {key}: {len(times)} reconnects in "
                f"{self.storm_window_s:g} s{last}"]  # fmt: skip

    # -- instruments ---------------------------------------------------------------------
    @staticmethod
    def _instrument_changed(f: dict[str, Any]) -> str:
        old, new = f.get("old"), f.get("new")
        what = f"instrument changed {f.get('venue')} {f.get('symbol')}"
        if not isinstance(old, dict) or not isinstance(new, dict):
            return what
        diffs = [f"{k} {old.get(k)} -> {new.get(k)}" for k in sorted(set(old) | set(new))
                 if old.get(k) != new.get(k)]  # fmt: skip
        return f"{what}: {', '.join(diffs)}" if diffs else what

    # -- the daily summary ---------------------------------------------------------------
    def _on_status(self, f: dict[str, Any]) -> None:
        day = self._days.setdefault(str(f.get("inst")), _Day())
        pnl = f.get("pnl")
        if isinstance(pnl, (int, float)):
            day.pnl_last = float(pnl)
        if f.get("risk"):
            day.risk = str(f["risk"])

    def _rollover(self, now: float) -> list[str]:
        today = _utc_day(now)
        if self._day is None:
            self._day = today
        if today == self._day:
            return []
        summary = self._summary("")
        self._day = today
        for inst, d in list(self._days.items()):
            base = d.pnl_last if d.pnl_last is not None else d.pnl_base
            self._days[inst] = _Day(pnl_base=base, pnl_last=None, risk=d.risk)
        return [summary] if summary else []

    def _summary(self, when: str) -> str | None:
        if not self._days:
            return None
        lines = [f"daily summary {self._day} UTC{when}"]
        for inst, d in sorted(self._days.items()):
            pnl = ""
            if d.pnl_last is not None:
                pnl = f", pnl {d.pnl_last - d.pnl_base:+.6f} (run total {d.pnl_last:.6f})"
            risk = f", risk {d.risk}" if d.risk else ""
            lines.append(f"{inst}: {d.fills} fills ({d.maker} maker), bought {_fmt(d.bought)}, "
                         f"sold {_fmt(d.sold)}, notional {_fmt(d.notional)}{pnl}{risk}")  # fmt: skip
        return "\n".join(lines)
