"""Fast screening, honest confirmation: many trials on a cheap model, the top few on the real one.

The cheap model (hftbacktest's "accelerated mode" idea) drops what is expensive to
simulate: no order, response or market-data latency, and only the first
``SCREEN_SHARE`` of the training window's batches. Its ranking is then checked: the
top-k screened trials are replayed at full fidelity, the best confirmed one wins, and
both scores are reported so the cheap model's error is visible.
"""

from __future__ import annotations

from typing import Any

from core.params import StrategyParams
from optimize.window import WindowData

SCREEN_SHARE = 0.25


def cheap_params(params: StrategyParams) -> StrategyParams:
    """The same strategy on a venue with no latency."""
    sim = params.sim.model_copy(
        update={
            "order_latency_ms": 0.0,
            "response_latency_ms": 0.0,
            "md_latency": "constant",
            "md_latency_ms": 0.0,
        }
    )
    return params.model_copy(update={"sim": sim})


def cheap_data(data: WindowData, share: float = SCREEN_SHARE) -> WindowData:
    """The first ``share`` of the window's batches (at least one)."""
    n = max(1, round(len(data.batches) * share))
    return WindowData(data.spec, data.window, data.batches[:n], data.seeded)


def spearman(a: list[float], b: list[float]) -> float | None:
    """Rank correlation of two score lists (None for fewer than two items)."""
    if len(a) < 2:
        return None
    ra, rb = _ranks(a), _ranks(b)
    ma, mb = sum(ra) / len(ra), sum(rb) / len(rb)
    cov = sum((x - ma) * (y - mb) for x, y in zip(ra, rb, strict=True))
    va = sum((x - ma) ** 2 for x in ra) ** 0.5
    vb = sum((y - mb) ** 2 for y in rb) ** 0.5
    return cov / (va * vb) if va and vb else None


def _ranks(values: list[float]) -> list[float]:
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2
        i = j + 1
    return ranks


def top_trials(study: Any, k: int) -> list[Any]:
    """The ``k`` best complete trials of a study, best first."""
    import optuna

    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    return sorted(done, key=lambda t: (-t.value, t.number))[:k]
