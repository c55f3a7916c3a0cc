"""Risk state machine: each breach acts on the event that causes it."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from core.params import RiskParams
from operators.risk.kernel import CompiledRiskManager
from operators.risk.manager import RiskManager, RiskState

S = 1_000_000_000
DAY = 86_400 * S


@pytest.fixture(params=[RiskManager, CompiledRiskManager], ids=["reference", "compiled"])
def rm(request: pytest.FixtureRequest) -> Callable[..., RiskManager]:
    """A factory of risk managers: the reference, then the compiled kernel."""
    cls = request.param

    def make(**kw: object) -> RiskManager:
        return cls(RiskParams(**kw))  # type: ignore[arg-type]

    return make


def test_safe_then_position_limit_quotes_only_the_reducing_side(
    rm: Callable[..., RiskManager],
) -> None:
    r = rm()
    d = r.evaluate(S, position=3, max_position=8, equity=0.0, unrealized_bps=None)
    assert d.state == RiskState.SAFE and d.allow_bids and d.allow_asks
    d = r.evaluate(2 * S, position=8, max_position=8, equity=0.0, unrealized_bps=None)
    assert d.state == RiskState.POSITION_LIMIT and not d.allow_bids and d.allow_asks
    d = r.evaluate(3 * S, position=-9, max_position=8, equity=0.0, unrealized_bps=None)
    assert d.state == RiskState.POSITION_LIMIT and d.allow_bids and not d.allow_asks


def test_daily_loss_breaks_until_next_utc_day(rm: Callable[..., RiskManager]) -> None:
    r = rm(daily_loss_limit_usd=50.0, max_drawdown_usd=1000.0)
    assert r.evaluate(10 * S, 0, 8, 0.0, None).state == RiskState.SAFE
    d = r.evaluate(11 * S, 0, 8, -50.0, None)  # exactly the limit: breach
    assert d.state == RiskState.CIRCUIT_BREAK and d.cancel_all and not d.allow_bids
    assert r.evaluate(DAY - 1, 0, 8, -10.0, None).state == RiskState.CIRCUIT_BREAK  # same day
    assert r.evaluate(DAY, 0, 8, -10.0, None).state == RiskState.SAFE  # new day, new baseline


def test_drawdown_trips_the_kill_switch_for_good(rm: Callable[..., RiskManager]) -> None:
    r = rm(max_drawdown_usd=100.0, daily_loss_limit_usd=1000.0)
    r.evaluate(S, 0, 8, 80.0, None)  # peak 80
    d = r.evaluate(2 * S, 0, 8, -20.0, None)  # drawdown 100
    assert d.state == RiskState.CIRCUIT_BREAK and r.killed and "kill switch" in d.reason
    assert r.evaluate(DAY * 3, 0, 8, 500.0, None).state == RiskState.CIRCUIT_BREAK


def test_consecutive_errors_break_for_the_cooldown(rm: Callable[..., RiskManager]) -> None:
    r = rm(max_consecutive_errors=3, cooldown_s=30.0)
    for _ in range(2):
        r.on_error()
    assert r.evaluate(S, 0, 8, 0.0, None).state == RiskState.SAFE
    r.on_error()
    d = r.evaluate(2 * S, 0, 8, 0.0, None)
    assert d.state == RiskState.CIRCUIT_BREAK and "3 consecutive" in d.reason
    assert r.evaluate(31 * S, 0, 8, 0.0, None).state == RiskState.CIRCUIT_BREAK
    assert r.evaluate(32 * S, 0, 8, 0.0, None).state == RiskState.SAFE  # 2 s + 30 s cooldown


def test_success_resets_the_error_count(rm: Callable[..., RiskManager]) -> None:
    r = rm(max_consecutive_errors=2)
    r.on_error()
    r.on_success()
    r.on_error()
    assert r.evaluate(S, 0, 8, 0.0, None).state == RiskState.SAFE


def test_volatility_spike_breaks(rm: Callable[..., RiskManager]) -> None:
    r = rm(vol_spike_multiple=4.0, cooldown_s=10.0)
    for i in range(40):  # baseline ~1.0 after 40 distinct samples near 1
        r.on_vol(1.0 + (i % 2) * 1e-6)
    assert r.evaluate(S, 0, 8, 0.0, None).state == RiskState.SAFE
    r.on_vol(5.0)  # > 4 x ~1.04 baseline
    assert r.evaluate(2 * S, 0, 8, 0.0, None).state == RiskState.CIRCUIT_BREAK


def test_trailing_stop_from_best_and_as_stop_loss(rm: Callable[..., RiskManager]) -> None:
    r = rm(trailing_stop_bps=10.0)
    assert not r.evaluate(S, 2, 8, 0.0, 5.0).flatten
    assert not r.evaluate(2 * S, 2, 8, 0.0, 25.0).flatten  # best 25
    d = r.evaluate(3 * S, 2, 8, 0.0, 15.0)  # gave back 10 from the best
    assert d.flatten and "trailing stop" in d.reason
    assert not r.evaluate(4 * S, 2, 8, 0.0, 0.0).flatten  # one stop per position
    r2 = rm(trailing_stop_bps=10.0)
    assert r2.evaluate(S, -1, 8, 0.0, -10.0).flatten  # never in profit: stop 10 bps from entry


def test_break_even_stop(rm: Callable[..., RiskManager]) -> None:
    r = rm(break_even_trigger_bps=8.0)
    r.evaluate(S, 1, 8, 0.0, 9.0)
    assert not r.evaluate(2 * S, 1, 8, 0.0, 0.5).flatten
    d = r.evaluate(3 * S, 1, 8, 0.0, 0.0)
    assert d.flatten and "break-even" in d.reason
