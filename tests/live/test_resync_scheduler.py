"""ResyncScheduler: when the trader asks its source for a fresh book (exact times)."""

from __future__ import annotations

import pytest

from operators.book.resync import ResyncScheduler

S = 1_000_000_000


def run(sched: ResyncScheduler, ticks: list[tuple[int, bool]]) -> list[tuple[int, int]]:
    """(second, attempt) of every request over ``(second, usable)`` checks."""
    out = []
    for sec, usable in ticks:
        n = sched.check(sec * S, usable)
        if n:
            out.append((sec, n))
    return out


def test_first_request_after_the_bound_then_doubling_gaps_up_to_the_cap() -> None:
    sched = ResyncScheduler(after_ms=1000, backoff_max_ms=30_000)
    requests = run(sched, [(s, False) for s in range(10, 100)])
    # spell starts at 10 s: 11 (+1 s), 13 (+2), 17 (+4), 25 (+8), 41 (+16), 71 (+30 capped)
    assert requests == [(11, 1), (13, 2), (17, 3), (25, 4), (41, 5), (71, 6)]
    assert sched.requests == 6


def test_a_usable_book_ends_the_spell_and_the_next_starts_from_the_bound() -> None:
    sched = ResyncScheduler(after_ms=1000, backoff_max_ms=30_000)
    ticks = [(s, False) for s in range(0, 8)] + [(8, True)] + [(s, False) for s in range(9, 13)]
    assert run(sched, ticks) == [(1, 1), (3, 2), (7, 3), (10, 1), (12, 2)]


def test_a_short_unusable_blip_asks_for_nothing() -> None:
    sched = ResyncScheduler(after_ms=2000, backoff_max_ms=8000)
    assert run(sched, [(0, True), (1, False), (2, True), (3, False), (4, True)]) == []
    assert sched.requests == 0


def test_delays_never_exceed_the_cap_even_after_many_attempts() -> None:
    sched = ResyncScheduler(after_ms=500, backoff_max_ms=4000)
    assert [sched.delay_after(n) / S for n in (1, 2, 3, 4, 70)] == [1.0, 2.0, 4.0, 4.0, 4.0]


@pytest.mark.parametrize(("after", "cap"), [(0, 1000), (-1, 1000), (2000, 1000)])
def test_bad_delays_are_refused(after: float, cap: float) -> None:
    with pytest.raises(ValueError, match="resync delays"):
        ResyncScheduler(after, cap)
