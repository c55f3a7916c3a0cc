"""The compiled risk manager against the reference, bit for bit (randomized, fixed seeds)."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from core.params import RiskParams
from core.reasons import R, StringTable, format_reason
from operators.risk.kernel import (
    CompiledRiskManager,
    empty_decision,
    new_risk,
    risk_evaluate,
    risk_kill,
)
from operators.risk.manager import RiskManager

S = 1_000_000_000
DAY = 86_400 * S
STATE = ("state", "reason", "protect_reason", "killed", "consecutive_errors", "break_until")
STATE += ("day", "day_start_equity", "peak_equity", "vol_baseline", "_vol_samples", "_last_vol")
STATE += ("_pos_sign", "_best_bps", "_stopped")


def _same(ref: RiskManager, fast: CompiledRiskManager) -> None:
    for name in STATE:  # floats by repr: the same bits
        assert repr(getattr(fast, name)) == repr(getattr(ref, name)), name


def _params(rng: np.random.Generator) -> RiskParams:
    return RiskParams(
        daily_loss_limit_usd=float(rng.uniform(5, 60)),
        max_drawdown_usd=float(rng.uniform(60, 400)),
        max_consecutive_errors=int(rng.integers(1, 6)),
        vol_spike_multiple=float(rng.uniform(1.5, 5)),
        cooldown_s=float(rng.choice([0.0, 0.5, rng.uniform(0, 60)])),
        trailing_stop_bps=float(rng.choice([0.0, rng.uniform(1, 30)])),
        break_even_trigger_bps=float(rng.choice([0.0, rng.uniform(1, 30)])),
    )


@pytest.mark.parametrize("seed", range(6))
def test_compiled_risk_matches_reference_on_random_paths(seed: int) -> None:
    """Differential: 3k steps per seed of random equity paths (drifts, crashes, recoveries,
    UTC day rollovers), positions that open, grow, flip and close, unrealized bps or None,
    error / success streaks, volatility samples (None, repeats, spikes) and kills by hand:
    every decision (reason text included) and every piece of state agree exactly, so the
    persistence of ``reason`` and ``protect_reason`` between evaluations is the reference's."""
    rng = np.random.default_rng(seed)
    p = _params(rng)
    ref, fast = RiskManager(p), CompiledRiskManager(p)
    now = int(rng.integers(0, 3 * DAY))
    equity = 0.0
    position = 0
    ubps: float | None = None
    vol = 1.0
    for step in range(3_000):
        now += int(rng.choice([1, 1000, S // 10, S, 10 * S, 40 * S]))
        if rng.random() < 0.004:
            now += int(rng.choice([DAY, DAY // 2, 3 * DAY]))
        equity += float(rng.normal(0, 0.5)) - 0.002 * equity  # mean-reverting
        if rng.random() < 0.003:
            equity -= float(rng.uniform(0, 40))  # a crash
        if rng.random() < 0.1:
            position += int(rng.integers(-4, 5))
        if rng.random() < 0.02:
            position = 0
        if position == 0 or rng.random() < 0.05:
            ubps = None
        else:
            ubps = float(rng.normal(0, 15)) if ubps is None else ubps + float(rng.normal(0, 3))
        u = rng.random()
        if u < 0.05:
            ref.on_error()
            fast.on_error()
        elif u < 0.08:
            ref.on_success()
            fast.on_success()
        if rng.random() < 0.3:
            v = rng.random()
            if v < 0.1:
                sample = None
            elif v < 0.2:
                sample = vol  # a repeat is ignored
            else:
                vol = float(vol * rng.uniform(0.9, 1.1))
                if rng.random() < 0.01:
                    vol *= float(rng.uniform(3, 8))  # a spike
                sample = vol
            ref.on_vol(sample)
            fast.on_vol(sample)
        if rng.random() < 0.0002:
            ref.kill("by hand")
            fast.kill("by hand")
        max_pos = int(rng.choice([0, 3, 8, 8, 8, 20]))
        a = ref.evaluate(now, position, max_pos, equity, ubps)
        b = fast.evaluate(now, position, max_pos, equity, ubps)
        assert repr(b) == repr(a), step
        if step % 5 == 0:
            _same(ref, fast)
        if step == 1500:  # a Bytewax snapshot: the state pickles and carries on
            fast = pickle.loads(pickle.dumps(fast))
    _same(ref, fast)


def test_kill_reasons_from_the_kernel_read_as_the_references() -> None:
    # the trader kills with "kill file <path> present": a nested reason with a string token
    strings = StringTable()
    rk = new_risk(RiskParams())
    risk_kill(rk, int(R.RISK_KILL_FILE), 0, 0, 0.0, 0.0, 0.0, strings.tok("/tmp/STOP"))
    d = empty_decision()
    assert risk_evaluate(rk, S, 0, 8, 0.0, np.nan, False, d) == 2  # CIRCUIT_BREAK
    r = d[0]
    text = format_reason(r["r_code"], r["r_sub"], tok=r["r_tok"], strings=strings.strings)
    ref = RiskManager(RiskParams())
    ref.kill("kill file /tmp/STOP present")
    assert (
        text
        == ref.evaluate(S, 0, 8, 0.0, None).reason
        == "kill switch: kill file /tmp/STOP present"
    )
    assert d[0]["cancel_all"] and not d[0]["allow_bids"] and not d[0]["allow_asks"]


@pytest.mark.parametrize("cls", [RiskManager, CompiledRiskManager], ids=["reference", "compiled"])
def test_reason_outlives_the_evaluation_that_set_it(cls: type[RiskManager]) -> None:
    # a circuit break keeps the reason that started it while it lasts; a position limit
    # inside a break does not replace it; SAFE clears it; a protection reason wins while
    # its flatten is asked for and stays stored after
    r = cls(RiskParams(max_consecutive_errors=1, cooldown_s=10.0, trailing_stop_bps=5.0))
    r.on_error()
    assert r.evaluate(S, 0, 8, 0.0, None).reason == "1 consecutive order errors"
    d = r.evaluate(5 * S, 9, 8, 0.0, None)  # still in the break, now also at the limit
    assert (d.state.name, d.reason, r.reason) == ("CIRCUIT_BREAK",) + (
        "1 consecutive order errors",
    ) * 2
    d = r.evaluate(12 * S, 9, 8, 0.0, None)
    assert (d.state.name, d.reason) == ("POSITION_LIMIT", "position 9 lots at limit 8")
    d = r.evaluate(13 * S, 2, 8, 0.0, 10.0)
    assert (d.state.name, d.reason, r.reason) == ("SAFE", "", "")
    d = r.evaluate(14 * S, 2, 8, 0.0, 4.5)  # gave back 5.5 bps from the best 10
    assert d.flatten and d.reason == "trailing stop: 4.50 bps, best 10.00" == r.protect_reason
    d = r.evaluate(15 * S, 2, 8, 0.0, 1.0)  # one stop per position; the text stays stored
    assert not d.flatten and d.reason == "" and r.protect_reason.startswith("trailing stop")
