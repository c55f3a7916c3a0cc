"""Risk state machine: SAFE / POSITION_LIMIT / CIRCUIT_BREAK, evaluated on every event.

* POSITION_LIMIT: |position| at or above the limit (units or notional): quote only the
  side that reduces the position.
* CIRCUIT_BREAK: cancel everything and quote nothing — after N consecutive order
  errors or a volatility spike (for ``cooldown_s``), after the daily loss limit (until
  the next UTC day), or for good once the kill switch trips (max drawdown, or by hand).
* Protection on the open position: a trailing stop (give back ``trailing_stop_bps``
  from the best unrealised PnL, which also acts as a stop-loss from entry) and a
  break-even stop (once ``break_even_trigger_bps`` in profit, close at entry). Either
  asks the trader to flatten.

Evaluation is synchronous with the event that caused a breach, so a fill that breaks a
limit cancels or flattens on that same event, never on a later one.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from core.params import RiskParams
from core.timeutil import NS_PER_DAY, NS_PER_S


class RiskState(IntEnum):
    SAFE = 0
    POSITION_LIMIT = 1
    CIRCUIT_BREAK = 2


@dataclass(slots=True)
class RiskDecision:
    state: RiskState
    allow_bids: bool
    allow_asks: bool
    cancel_all: bool
    flatten: bool
    reason: str


class RiskManager:
    def __init__(self, params: RiskParams) -> None:
        self.p = params
        self.state = RiskState.SAFE
        self.reason = ""
        self.killed = False
        self.consecutive_errors = 0
        self.break_until = 0  # ns; CIRCUIT_BREAK while now < break_until
        self.day = -1
        self.day_start_equity = 0.0
        self.peak_equity = 0.0
        self.vol_baseline: float | None = None
        self._vol_samples = 0
        self._last_vol: float | None = None
        # protection
        self._pos_sign = 0
        self._best_bps = 0.0
        self._stopped = False
        self.protect_reason = ""

    # -- inputs ------------------------------------------------------------------------
    def on_error(self) -> None:
        self.consecutive_errors += 1

    def on_success(self) -> None:
        self.consecutive_errors = 0

    def kill(self, reason: str) -> None:
        self.killed = True
        self.reason = f"kill switch: {reason}"

    def on_vol(self, vol_bps: float | None) -> None:
        """Feed each closed volatility sample; keeps a slow baseline for spike detection."""
        if vol_bps is None or vol_bps == self._last_vol:
            return
        self._last_vol = vol_bps
        self._vol_samples += 1
        if self.vol_baseline is None:
            self.vol_baseline = vol_bps
        else:
            self.vol_baseline += (vol_bps - self.vol_baseline) / 100.0

    # -- decision ----------------------------------------------------------------------
    def evaluate(
        self,
        now: int,
        position: int,
        max_position: int,
        equity: float,
        unrealized_bps: float | None,
    ) -> RiskDecision:
        """Decide what may be quoted now. ``equity`` is total PnL in quote currency."""
        p = self.p
        day = now // NS_PER_DAY
        if day != self.day:
            self.day = day
            self.day_start_equity = equity
        self.peak_equity = max(self.peak_equity, equity)

        reason = ""
        if not self.killed and self.peak_equity - equity >= p.max_drawdown_usd:
            self.kill(f"drawdown {self.peak_equity - equity:.2f} >= {p.max_drawdown_usd}")
        if self.killed:
            reason = self.reason
        elif equity - self.day_start_equity <= -p.daily_loss_limit_usd:
            self.break_until = max(self.break_until, (day + 1) * NS_PER_DAY)
            reason = f"daily loss {equity - self.day_start_equity:.2f} <= -{p.daily_loss_limit_usd}"
        elif self.consecutive_errors >= p.max_consecutive_errors:
            self.break_until = max(self.break_until, now + int(p.cooldown_s * NS_PER_S))
            reason = f"{self.consecutive_errors} consecutive order errors"
            self.consecutive_errors = 0
        elif (
            self._last_vol is not None
            and self.vol_baseline is not None
            and self._vol_samples >= 30
            and self._last_vol > p.vol_spike_multiple * self.vol_baseline
        ):
            self.break_until = max(self.break_until, now + int(p.cooldown_s * NS_PER_S))
            reason = f"volatility spike {self._last_vol:.2f} bps > {p.vol_spike_multiple} x {self.vol_baseline:.2f}"

        flatten = self._protection(position, unrealized_bps)
        why = self.protect_reason if flatten else ""
        if self.killed or now < self.break_until:
            self._set(RiskState.CIRCUIT_BREAK, reason or self.reason)
            return RiskDecision(self.state, False, False, True, flatten, why or self.reason)
        if max_position <= 0 or abs(position) >= max_position:
            self._set(RiskState.POSITION_LIMIT, f"position {position} lots at limit {max_position}")
            return RiskDecision(
                self.state, position < 0, position > 0, False, flatten, why or self.reason
            )
        self._set(RiskState.SAFE, "")
        return RiskDecision(self.state, True, True, False, flatten, why)

    def _set(self, state: RiskState, reason: str) -> None:
        self.state = state
        self.reason = reason

    def _protection(self, position: int, unrealized_bps: float | None) -> bool:
        sign = (position > 0) - (position < 0)
        if sign != self._pos_sign:  # opened, closed or flipped: a new position to protect
            self._pos_sign = sign
            self._best_bps = 0.0
            self._stopped = False
        if sign == 0 or unrealized_bps is None or self._stopped:
            return False
        self._best_bps = max(self._best_bps, unrealized_bps)
        p = self.p
        hit = False
        if p.trailing_stop_bps > 0 and self._best_bps - unrealized_bps >= p.trailing_stop_bps:
            hit = True
            self.protect_reason = (
                f"trailing stop: {unrealized_bps:.2f} bps, best {self._best_bps:.2f}"
            )
        if (
            p.break_even_trigger_bps > 0
            and self._best_bps >= p.break_even_trigger_bps
            and unrealized_bps <= 0
        ):
            hit = True
            self.protect_reason = f"break-even stop after {self._best_bps:.2f} bps in profit"
        if hit:
            self._stopped = True
        return hit
