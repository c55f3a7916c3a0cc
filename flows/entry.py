"""How a flow module exposes ``flow`` to ``python -m bytewax.run``: built on first access.

Building needs configuration (and, live, the network), so it happens when Bytewax asks
for the attribute, not at import; a configuration error becomes one line on stderr and
exit code 1 instead of a traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from bytewax.dataflow import Dataflow

from core.errors import MMError


def lazy_flow(name: str, build: Callable[[], Dataflow]) -> Callable[[str], Dataflow]:
    """A module ``__getattr__`` that builds the dataflow when ``flow`` is requested."""

    def getattr_(attr: str) -> Dataflow:
        if attr != "flow":
            raise AttributeError(attr)
        try:
            return build()
        except MMError as exc:
            print(f"{name}: error: {exc}", file=sys.stderr)
            raise SystemExit(1) from None

    return getattr_
