"""The risk state machine as a compiled kernel.

Same behaviour as :class:`operators.risk.manager.RiskManager` (the reference, tested
against it bit for bit): the same checks in the same order, the same float maths, and
the same persistence of ``reason`` (it survives between evaluations: a circuit break
keeps the reason that started it) and ``protect_reason``. Reasons are numbers
(:mod:`core.reasons`), turned into the reference's text at the edge. ``None`` is a flag
(``has_*``) beside the float it qualifies.

:func:`risk_evaluate` writes a decision record (``DECISION_DTYPE``) instead of
returning a ``RiskDecision``.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np
from numba import njit

from core.params import RiskParams
from core.reasons import R, StringTable, reason_fields, record_reason
from core.timeutil import NS_PER_DAY, NS_PER_S
from operators.risk.manager import RiskDecision, RiskState

SAFE = int(RiskState.SAFE)
POSITION_LIMIT = int(RiskState.POSITION_LIMIT)
CIRCUIT_BREAK = int(RiskState.CIRCUIT_BREAK)

RISK_REC = np.dtype(
    [
        # parameters
        ("daily_loss_limit_usd", np.float64),
        ("max_drawdown_usd", np.float64),
        ("max_consecutive_errors", np.int64),
        ("vol_spike_multiple", np.float64),
        ("cooldown_ns", np.int64),  # int(cooldown_s x NS_PER_S), as the reference computes it
        ("trailing_stop_bps", np.float64),
        ("break_even_trigger_bps", np.float64),
        # state
        ("state", np.int8),
        ("killed", np.bool_),
        ("consecutive_errors", np.int64),
        ("break_until", np.int64),
        ("day", np.int64),
        ("day_start_equity", np.float64),
        ("peak_equity", np.float64),
        ("vol_baseline", np.float64),
        ("has_vol_baseline", np.bool_),
        ("vol_samples", np.int64),
        ("last_vol", np.float64),
        ("has_last_vol", np.bool_),
        ("pos_sign", np.int64),
        ("best_bps", np.float64),
        ("stopped", np.bool_),
        *reason_fields("r_"),  # self.reason
        *reason_fields("p_"),  # self.protect_reason
        ("err", np.int64),
    ]
)

DECISION_DTYPE = np.dtype(
    [
        ("state", np.int8),
        ("allow_bids", np.bool_),
        ("allow_asks", np.bool_),
        ("cancel_all", np.bool_),
        ("flatten", np.bool_),
        *reason_fields("r_"),
    ]
)

KRisk = namedtuple("KRisk", ["rec"])


def new_risk(params: RiskParams) -> KRisk:
    rec = np.zeros(1, dtype=RISK_REC)
    r = rec[0]
    r["daily_loss_limit_usd"] = params.daily_loss_limit_usd
    r["max_drawdown_usd"] = params.max_drawdown_usd
    r["max_consecutive_errors"] = params.max_consecutive_errors
    r["vol_spike_multiple"] = params.vol_spike_multiple
    r["cooldown_ns"] = int(params.cooldown_s * NS_PER_S)
    r["trailing_stop_bps"] = params.trailing_stop_bps
    r["break_even_trigger_bps"] = params.break_even_trigger_bps
    r["state"] = SAFE
    r["day"] = -1
    r["r_tok"] = r["p_tok"] = -1
    return KRisk(rec)


def empty_decision() -> np.ndarray:
    d = np.zeros(1, dtype=DECISION_DTYPE)
    d[0]["r_tok"] = -1
    return d


# -- inputs ------------------------------------------------------------------------------
@njit(cache=True, _nrt=False)
def risk_on_error(rk: KRisk) -> None:
    rk.rec[0].consecutive_errors += 1


@njit(cache=True, _nrt=False)
def risk_on_success(rk: KRisk) -> None:
    rk.rec[0].consecutive_errors = 0


@njit(cache=True, _nrt=False)
def risk_kill(
    rk: KRisk, sub: int, i0: int, i1: int, f0: float, f1: float, f2: float, tok: int
) -> None:
    """``kill(reason)``: the reason is ``kill switch: <sub reason>``."""
    r = rk.rec[0]
    r.killed = True
    r.r_code = R.RISK_KILL
    r.r_sub = sub
    r.r_i0 = i0
    r.r_i1 = i1
    r.r_f0 = f0
    r.r_f1 = f1
    r.r_f2 = f2
    r.r_tok = tok


@njit(cache=True, _nrt=False)
def risk_on_vol(rk: KRisk, vol_bps: float, has_vol: bool) -> None:
    """``on_vol``; ``has_vol`` False is the reference's None."""
    r = rk.rec[0]
    if not has_vol or (r.has_last_vol and vol_bps == r.last_vol):
        return
    r.last_vol = vol_bps
    r.has_last_vol = True
    r.vol_samples += 1
    if not r.has_vol_baseline:
        r.vol_baseline = vol_bps
        r.has_vol_baseline = True
    else:
        r.vol_baseline += (vol_bps - r.vol_baseline) / 100.0


# -- decision -----------------------------------------------------------------------------
@njit(cache=True, _nrt=False)
def _protection(rk: KRisk, position: int, ubps: float, has_ubps: bool) -> bool:
    r = rk.rec[0]
    sign = (1 if position > 0 else 0) - (1 if position < 0 else 0)
    if sign != r.pos_sign:  # opened, closed or flipped: a new position to protect
        r.pos_sign = sign
        r.best_bps = 0.0
        r.stopped = False
    if sign == 0 or not has_ubps or r.stopped:
        return False
    if ubps > r.best_bps:  # max(best, ubps)
        r.best_bps = ubps
    hit = False
    if r.trailing_stop_bps > 0 and r.best_bps - ubps >= r.trailing_stop_bps:
        hit = True
        r.p_code = R.RISK_TRAILING
        r.p_sub = 0
        r.p_i0 = 0
        r.p_i1 = 0
        r.p_f0 = ubps
        r.p_f1 = r.best_bps
        r.p_f2 = 0.0
        r.p_tok = -1
    if r.break_even_trigger_bps > 0 and r.best_bps >= r.break_even_trigger_bps and ubps <= 0:
        hit = True
        r.p_code = R.RISK_BREAK_EVEN
        r.p_sub = 0
        r.p_i0 = 0
        r.p_i1 = 0
        r.p_f0 = r.best_bps
        r.p_f1 = 0.0
        r.p_f2 = 0.0
        r.p_tok = -1
    if hit:
        r.stopped = True
    return hit


@njit(cache=True, _nrt=False)
def _decision_reason_from_rec(d, r, protect: bool) -> None:  # type: ignore[no-untyped-def]
    """Decision reason: the protection's if ``protect`` else the manager's ``reason``."""
    if protect:
        d.r_code = r.p_code
        d.r_sub = r.p_sub
        d.r_i0 = r.p_i0
        d.r_i1 = r.p_i1
        d.r_f0 = r.p_f0
        d.r_f1 = r.p_f1
        d.r_f2 = r.p_f2
        d.r_tok = r.p_tok
    else:
        d.r_code = r.r_code
        d.r_sub = r.r_sub
        d.r_i0 = r.r_i0
        d.r_i1 = r.r_i1
        d.r_f0 = r.r_f0
        d.r_f1 = r.r_f1
        d.r_f2 = r.r_f2
        d.r_tok = r.r_tok


@njit(cache=True, _nrt=False)
def risk_evaluate(
    rk: KRisk,
    now: int,
    position: int,
    max_position: int,
    equity: float,
    unrealized_bps: float,
    has_unrealized_bps: bool,
    out: np.ndarray,
) -> int:
    """``evaluate``: writes the decision into ``out[0]`` (DECISION_DTYPE); returns its state."""
    r = rk.rec[0]
    day = now // NS_PER_DAY
    if day != r.day:
        r.day = day
        r.day_start_equity = equity
    if equity > r.peak_equity:  # max(peak, equity)
        r.peak_equity = equity

    # the local ``reason`` of the reference (code 0: "")
    c = 0
    i0 = 0
    f0 = 0.0
    f1 = 0.0
    f2 = 0.0
    if not r.killed and r.peak_equity - equity >= r.max_drawdown_usd:
        risk_kill(rk, R.RISK_DRAWDOWN, 0, 0, r.peak_equity - equity, r.max_drawdown_usd, 0.0, -1)
    use_self_reason = False
    if r.killed:
        use_self_reason = True
    elif equity - r.day_start_equity <= -r.daily_loss_limit_usd:
        b = (day + 1) * NS_PER_DAY
        if b > r.break_until:
            r.break_until = b
        c = R.RISK_DAILY_LOSS
        f0 = equity - r.day_start_equity
        f1 = r.daily_loss_limit_usd
    elif r.consecutive_errors >= r.max_consecutive_errors:
        b = now + r.cooldown_ns
        if b > r.break_until:
            r.break_until = b
        c = R.RISK_ERRORS
        i0 = r.consecutive_errors
        r.consecutive_errors = 0
    elif (
        r.has_last_vol
        and r.has_vol_baseline
        and r.vol_samples >= 30
        and r.last_vol > r.vol_spike_multiple * r.vol_baseline
    ):
        b = now + r.cooldown_ns
        if b > r.break_until:
            r.break_until = b
        c = R.RISK_VOL_SPIKE
        f0 = r.last_vol
        f1 = r.vol_spike_multiple
        f2 = r.vol_baseline

    flatten = _protection(rk, position, unrealized_bps, has_unrealized_bps)
    protect = flatten and r.p_code != R.NONE  # ``why or ...``
    d = out[0]
    d.flatten = flatten
    if r.killed or now < r.break_until:
        # _set(CIRCUIT_BREAK, reason or self.reason): a local reason replaces self.reason
        r.state = CIRCUIT_BREAK
        if c != 0 and not use_self_reason:
            r.r_code = c
            r.r_sub = 0
            r.r_i0 = i0
            r.r_i1 = 0
            r.r_f0 = f0
            r.r_f1 = f1
            r.r_f2 = f2
            r.r_tok = -1
        d.state = CIRCUIT_BREAK
        d.allow_bids = False
        d.allow_asks = False
        d.cancel_all = True
        _decision_reason_from_rec(d, r, protect)
        return CIRCUIT_BREAK
    if max_position <= 0 or abs(position) >= max_position:
        r.state = POSITION_LIMIT
        r.r_code = R.RISK_POSITION_LIMIT
        r.r_sub = 0
        r.r_i0 = position
        r.r_i1 = max_position
        r.r_f0 = 0.0
        r.r_f1 = 0.0
        r.r_f2 = 0.0
        r.r_tok = -1
        d.state = POSITION_LIMIT
        d.allow_bids = position < 0
        d.allow_asks = position > 0
        d.cancel_all = False
        _decision_reason_from_rec(d, r, protect)
        return POSITION_LIMIT
    r.state = SAFE
    r.r_code = R.NONE
    r.r_sub = 0
    r.r_i0 = 0
    r.r_i1 = 0
    r.r_f0 = 0.0
    r.r_f1 = 0.0
    r.r_f2 = 0.0
    r.r_tok = -1
    d.state = SAFE
    d.allow_bids = True
    d.allow_asks = True
    d.cancel_all = False
    if protect:
        _decision_reason_from_rec(d, r, True)
    else:
        d.r_code = R.NONE
        d.r_sub = 0
        d.r_i0 = 0
        d.r_i1 = 0
        d.r_f0 = 0.0
        d.r_f1 = 0.0
        d.r_f2 = 0.0
        d.r_tok = -1
    return SAFE


# -- the Python edge -----------------------------------------------------------------------
class CompiledRiskManager:
    """:class:`RiskManager`'s interface over the kernel."""

    def __init__(self, params: RiskParams, strings: StringTable | None = None) -> None:
        self.p = params
        self.rk = new_risk(params)
        self.strings = strings if strings is not None else StringTable()
        self._dec = empty_decision()

    def _get(self, name: str):  # type: ignore[no-untyped-def]
        return self.rk.rec[0][name]

    @property
    def state(self) -> RiskState:
        return RiskState(int(self._get("state")))

    @property
    def reason(self) -> str:
        return record_reason(self.rk.rec[0], "r_", self.strings.strings)

    @property
    def protect_reason(self) -> str:
        return record_reason(self.rk.rec[0], "p_", self.strings.strings)

    killed = property(lambda self: bool(self._get("killed")))
    consecutive_errors = property(lambda self: int(self._get("consecutive_errors")))
    break_until = property(lambda self: int(self._get("break_until")))
    day = property(lambda self: int(self._get("day")))
    day_start_equity = property(lambda self: float(self._get("day_start_equity")))
    peak_equity = property(lambda self: float(self._get("peak_equity")))

    @property
    def vol_baseline(self) -> float | None:
        return float(self._get("vol_baseline")) if self._get("has_vol_baseline") else None

    @property
    def _last_vol(self) -> float | None:
        return float(self._get("last_vol")) if self._get("has_last_vol") else None

    _vol_samples = property(lambda self: int(self._get("vol_samples")))
    _pos_sign = property(lambda self: int(self._get("pos_sign")))
    _best_bps = property(lambda self: float(self._get("best_bps")))
    _stopped = property(lambda self: bool(self._get("stopped")))

    def on_error(self) -> None:
        risk_on_error(self.rk)

    def on_success(self) -> None:
        risk_on_success(self.rk)

    def kill(self, reason: str) -> None:
        risk_kill(self.rk, int(R.EXTERNAL), 0, 0, 0.0, 0.0, 0.0, self.strings.tok(reason))

    def on_vol(self, vol_bps: float | None) -> None:
        risk_on_vol(self.rk, 0.0 if vol_bps is None else float(vol_bps), vol_bps is not None)

    def evaluate(
        self,
        now: int,
        position: int,
        max_position: int,
        equity: float,
        unrealized_bps: float | None,
    ) -> RiskDecision:
        has = unrealized_bps is not None
        risk_evaluate(
            self.rk,
            int(now),
            int(position),
            int(max_position),
            float(equity),
            float(unrealized_bps) if has else np.nan,
            has,
            self._dec,
        )
        d = self._dec[0]
        return RiskDecision(
            RiskState(int(d["state"])),
            bool(d["allow_bids"]),
            bool(d["allow_asks"]),
            bool(d["cancel_all"]),
            bool(d["flatten"]),
            record_reason(d, "r_", self.strings.strings),
        )
