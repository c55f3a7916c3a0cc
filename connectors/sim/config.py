"""Settings of the simulated venue: fees, latencies and the queue-position model.

Validated once at construction so a bad backtest configuration fails before any data
is read, with a message naming the field (``SimConfigError`` is both a ``ConfigError``
for the CLI and a ``ValueError`` for callers that expect one).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from core.errors import ConfigError
from core.money import rate_to_e8

if TYPE_CHECKING:
    from core.params import StrategyParams

MD_LATENCY_MODES = ("constant", "recorded")
QUEUE_MODELS = ("risk_averse", "power", "log")
# how an accepted AMEND treats the order's queue place and venue order id; "auto" follows
# the instrument's venue (VENUE_MODIFY_MODELS, else keep_priority)
MODIFY_MODELS = ("auto", "keep_priority", "cancel_replace")
# Hyperliquid's modify (batchModify) cancels and re-places: a new order id at the back of
# the queue, even for a pure size decrease
VENUE_MODIFY_MODELS = {"hyperliquid": "cancel_replace"}


class SimConfigError(ConfigError, ValueError):
    """An invalid simulated-venue setting; the message names the field."""


@dataclass(frozen=True)
class SimConfig:
    maker_fee: str | float = "-0.00015"  # rate; negative = rebate (core.money.rate_to_e8)
    taker_fee: str | float = "0.00045"
    order_latency_ms: float = 5.0  # strategy -> venue (order entry)
    response_latency_ms: float = 5.0  # venue -> strategy (acks, fills)
    md_latency: Literal["constant", "recorded"] = "constant"
    md_latency_ms: float = 5.0  # constant mode: each market event happened at the venue
    # this long before its recorded local receive time
    queue_model: Literal["risk_averse", "power", "log"] = "risk_averse"
    queue_power: float = 2.0  # exponent of the power model
    modify_model: Literal["auto", "keep_priority", "cancel_replace"] = "auto"

    def __post_init__(self) -> None:
        for name in ("maker_fee", "taker_fee"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (str, int, float)):
                raise SimConfigError(f"sim config: {name} must be a number, got {value!r}")
            try:
                rate_to_e8(value, f"sim config: {name}")
            except ConfigError as exc:
                raise SimConfigError(exc.message, exc.hint) from None
            except (ArithmeticError, ValueError):
                raise SimConfigError(f"sim config: {name} {value!r} is not a number") from None
        for name in ("order_latency_ms", "response_latency_ms", "md_latency_ms"):
            value = getattr(self, name)
            if not _is_real(value) or not math.isfinite(value) or value < 0:
                raise SimConfigError(
                    f"sim config: {name} must be a finite number >= 0, got {value!r}"
                )
        if self.md_latency not in MD_LATENCY_MODES:
            raise SimConfigError(
                f"sim config: md_latency must be one of {', '.join(MD_LATENCY_MODES)}, "
                f"got {self.md_latency!r}"
            )
        if self.queue_model not in QUEUE_MODELS:
            raise SimConfigError(
                f"sim config: queue_model must be one of {', '.join(QUEUE_MODELS)}, "
                f"got {self.queue_model!r}"
            )
        q = self.queue_power
        if not _is_real(q) or not math.isfinite(q) or q <= 0:
            raise SimConfigError(f"sim config: queue_power must be a finite number > 0, got {q!r}")
        if self.modify_model not in MODIFY_MODELS:
            raise SimConfigError(
                f"sim config: modify_model must be one of {', '.join(MODIFY_MODELS)}, "
                f"got {self.modify_model!r}"
            )

    @classmethod
    def from_params(cls, params: StrategyParams) -> SimConfig:
        """The venue of a strategy parameter set (``params.sim`` and ``params.fees``)."""
        sim, fees = params.sim, params.fees
        return cls(
            maker_fee=fees.maker,
            taker_fee=fees.taker,
            order_latency_ms=sim.order_latency_ms,
            response_latency_ms=sim.response_latency_ms,
            md_latency=sim.md_latency,
            md_latency_ms=sim.md_latency_ms,
            queue_model=sim.queue_model,
            queue_power=sim.queue_power,
            modify_model=sim.modify_model,
        )

    def modify_model_for(self, venue: str) -> str:
        """The modify model in force on ``venue``: the setting, or the venue's own if auto."""
        if self.modify_model != "auto":
            return self.modify_model
        return VENUE_MODIFY_MODELS.get(venue, "keep_priority")

    @property
    def maker_rate_e8(self) -> int:
        return rate_to_e8(self.maker_fee, "maker_fee")

    @property
    def taker_rate_e8(self) -> int:
        return rate_to_e8(self.taker_fee, "taker_fee")


def _is_real(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
