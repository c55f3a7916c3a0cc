"""The apply gate: a live params file is replaced only by parameters that did better.

Better means: the best trial's out-of-sample score beats the current file's score on
the same window by at least ``min_improvement`` (score units). Either way the decision
is appended to the lake's decisions table; a replaced file is swapped atomically.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from optimize.paramfile import write_params_file


@dataclass(frozen=True)
class Decision:
    applied: bool
    reason: str
    target: str
    current_score: float
    new_score: float
    min_improvement: float
    test: str
    decided_ns: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def decide(current: float, new: float, min_improvement: float) -> tuple[bool, str]:
    gain = new - current
    if gain > min_improvement:
        return (
            True,
            f"out-of-sample score {new:.6g} beats the current {current:.6g} by {gain:.6g} > {min_improvement:g}",
        )
    return False, (
        f"out-of-sample score {new:.6g} does not beat the current {current:.6g} by more than"
        f" {min_improvement:g} (gain {gain:.6g}); kept the current file"
    )


def gate(
    target: Path,
    new_data: dict[str, Any],
    current_score: float,
    new_score: float,
    min_improvement: float,
    test: str,
    header: str = "",
) -> Decision:
    """Decide, and if the new params win, replace ``target`` with them (atomically)."""
    applied, reason = decide(current_score, new_score, min_improvement)
    if applied:
        write_params_file(target, new_data, header)
    return Decision(
        applied,
        reason,
        str(target),
        current_score,
        new_score,
        min_improvement,
        test,
        time.time_ns(),
    )
