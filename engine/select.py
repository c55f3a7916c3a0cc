"""Which trader implementation a flow runs: the compiled loop (default) or the reference.

The reference (``operators.trader.Trader``) is the plain-Python specification; the
compiled loop (``engine.trader.CompiledTrader``) produces identical output, 20-50x
faster. ``MM_ENGINE=python`` (or ``--engine python``) selects the reference, e.g. to
bisect a suspected kernel bug.
"""

from __future__ import annotations

import os
from typing import Any

from core.errors import ConfigError
from core.instruments import InstrumentSpec
from core.params import StrategyParams

ENGINES = ("compiled", "python")


def engine_name(engine: str | None = None) -> str:
    name = engine or os.environ.get("MM_ENGINE") or "compiled"
    if name not in ENGINES:
        raise ConfigError(
            f"unknown engine {name!r}", f"use one of {', '.join(ENGINES)} (MM_ENGINE / --engine)"
        )
    return name


def make_trader(
    spec: InstrumentSpec,
    params: StrategyParams,
    venue: Any = None,
    run_tag: str = "bt",
    *,
    engine: str | None = None,
    **kwargs: Any,
) -> Any:
    """A trader of the selected engine; ``venue`` is a SimVenue (or None for a gateway)."""
    if engine_name(engine) == "python":
        from operators.trader import Trader

        return Trader(spec, params, venue, run_tag, **kwargs)
    from engine.trader import CompiledTrader

    return CompiledTrader(spec, params, venue, run_tag, **kwargs)
