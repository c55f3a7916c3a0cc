"""Strategy parameters: one schema for backtest, paper and live.

A parameter set found by the optimizer is a YAML file of this schema and runs live
unchanged. Defaults come from the BotMM README and the mm-bot optimization plan.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True, frozen=False)


class QuoteParams(_Strict):
    base_spread_bps: float = Field(2.0, ge=0, description="minimum full spread, bps of mid")
    vol_multiplier: float = Field(1.5, ge=0, description="half spread >= vol x this")
    inventory_skew_factor: float = Field(
        0.5, ge=0, description="reservation skew per unit inventory"
    )
    bias_strength: float = Field(0.0, ge=0, description="signal shift as a share of spread")
    order_size_usd: float = Field(100.0, gt=0)
    levels: int = Field(1, ge=1, le=20, description="levels per side (regime may override)")
    level_spacing_bps: float = Field(1.0, ge=0)
    level_size_multiplier: float = Field(1.0, gt=0, description="size growth per extra level")
    min_spread_fee_multiple: float = Field(
        1.0, ge=0, description="full spread >= this x 2 x maker fee (when fees are positive)"
    )
    warmup_vol_bps: float = Field(5.0, ge=0, description="volatility used until estimates warm up")
    hanging_orders: bool = False
    price_ceiling: float | None = Field(None, gt=0, description="above: quote asks only")
    price_floor: float | None = Field(None, gt=0, description="below: quote bids only")
    max_order_age_s: float = Field(
        0.0, ge=0, description="0 = no limit; older orders are refreshed"
    )
    inventory_target_pct: float = Field(
        0.0, ge=-1, le=1, description="target inventory as a share of capital (0 = flat)"
    )
    capital_usd: float = Field(1000.0, gt=0)

    @model_validator(mode="after")
    def _band(self) -> QuoteParams:
        if (
            self.price_ceiling is not None
            and self.price_floor is not None
            and self.price_floor >= self.price_ceiling
        ):
            raise ValueError("price_floor must be below price_ceiling")
        return self


class RiskParams(_Strict):
    max_position_usd: float = Field(500.0, gt=0)
    max_position_units: float | None = Field(None, gt=0)
    daily_loss_limit_usd: float = Field(50.0, gt=0)
    max_drawdown_usd: float = Field(100.0, gt=0)
    max_consecutive_errors: int = Field(5, ge=1)
    vol_spike_multiple: float = Field(4.0, gt=1, description="circuit break when vol > x baseline")
    cooldown_s: float = Field(30.0, ge=0)
    trailing_stop_bps: float = Field(0.0, ge=0, description="0 = off")
    break_even_trigger_bps: float = Field(0.0, ge=0, description="0 = off")


class FeeParams(_Strict):
    maker: float = Field(-0.00015, description="maker fee rate; negative = rebate")
    taker: float = Field(0.00045)


class StrategyParams(_Strict):
    quote: QuoteParams = QuoteParams()
    risk: RiskParams = RiskParams()
    fees: FeeParams = FeeParams()


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out
