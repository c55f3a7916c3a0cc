"""Which strategy parameters may change while a trader runs (hot reload).

A running trader holds state built under its parameters: a book, feature estimators,
resting orders, inventory and risk. Quoting, risk limits and order checks are read
afresh at every decision, so a new value simply applies from the next one (a changed
``quote.levels`` is one more quote-set change for the order manager, which cancels or
places the difference, exactly as a regime switch does). The keys below are not: their
value is baked into state that would be wrong afterwards. A file changing any of them is
refused as a whole, so the running parameters always equal one file's content.
"""

from __future__ import annotations

from typing import Any

from core.params import StrategyParams

# dotted key or group -> why it changes only at a restart
RESTART_ONLY: dict[str, str] = {
    "features": "feature estimators' windows and sampling are fixed for a run",
    "sim": "the simulated venue's model is fixed for a run",
    "fees": "the venue's fee schedule is fixed for a run (paper: the simulated venue charges it)",
    "pnl_sample_ms": "the PnL series' sampling is fixed for a run",
    "orders.client_id_prefix": "resting orders carry the old prefix and would no longer be "
    "recognised",
}


def flatten(params: StrategyParams) -> dict[str, Any]:
    """``{"quote.base_spread_bps": 2.0, ...}``: every leaf by its dotted key."""
    out: dict[str, Any] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(f"{prefix}.{k}" if prefix else k, v)
        else:
            out[prefix] = value

    walk("", params.model_dump())
    return out


def param_changes(old: StrategyParams, new: StrategyParams) -> dict[str, list[Any]]:
    """``{key: [old, new]}`` for each leaf that differs, in schema order."""
    a, b = flatten(old), flatten(new)
    return {k: [a[k], b[k]] for k in a if a[k] != b[k]}


def restart_only(key: str) -> str | None:
    """Why ``key`` cannot change live, or None if it can."""
    parts = key.split(".")
    for n in range(len(parts), 0, -1):
        reason = RESTART_ONLY.get(".".join(parts[:n]))
        if reason is not None:
            return reason
    return None
