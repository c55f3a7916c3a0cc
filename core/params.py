"""Strategy parameters: one schema for backtest, paper and live.

A parameter set found by the optimizer is a YAML file of this schema and runs live
unchanged. Defaults come from the BotMM README (base spread 2 bps, vol multiplier 1.5,
skew factor 0.5, max position 500 USD, order size 100 USD, maker -0.015 %, taker
0.045 %) and the mm-bot optimization plan (regimes, toxicity rules).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Strict(BaseModel):
    # inf / nan pass ``ge``-only bounds and then crash the dataflow on the first quote
    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)


class QuoteParams(_Strict):
    base_spread_bps: float = Field(2.0, ge=0, description="minimum full spread, bps of mid")
    vol_multiplier: float = Field(1.5, ge=0, description="half spread >= volatility x this")
    inventory_skew_factor: float = Field(
        0.5, ge=0, description="reservation shift = inventory share x this x volatility half spread"
    )
    bias_strength: float = Field(0.0, ge=0, description="signal shift as a share of the spread")
    order_size_usd: float = Field(100.0, gt=0)
    levels: int = Field(1, ge=1, le=20, description="levels per side when regimes are off")
    use_regimes: bool = Field(
        True, description="levels / spread clamp / position multiplier by regime"
    )
    level_spacing_bps: float = Field(1.0, ge=0)
    level_size_multiplier: float = Field(1.0, gt=0, description="size growth per extra level")
    min_spread_fee_multiple: float = Field(
        1.0, ge=0, description="with a positive maker fee, half spread >= this x maker fee"
    )
    warmup_vol_bps: float = Field(
        2.0, ge=0, description="volatility used until the estimate is warm"
    )
    toxicity_widen: float = Field(
        1.0, ge=0, description="threatened side half spread x (1 + score x this)"
    )
    toxicity_pull_score: float = Field(
        0.9, ge=0, le=1, description="pull the threatened side at this score"
    )
    hanging_orders: bool = Field(False, description="keep the other side resting after a fill")
    hanging_cancel_bps: float = Field(
        20.0, gt=0, description="a hanging order this far from mid is cancelled"
    )
    price_ceiling: float | None = Field(None, gt=0, description="mid above it: quote asks only")
    price_floor: float | None = Field(None, gt=0, description="mid below it: quote bids only")
    max_order_age_s: float = Field(0.0, ge=0, description="0 = no limit; older orders are replaced")
    inventory_target_pct: float = Field(
        0.0, ge=-1, le=1, description="target inventory as a share of capital (0 = flat)"
    )
    capital_usd: float = Field(1000.0, gt=0, description="capital for return and inventory target")

    @model_validator(mode="after")
    def _band(self) -> QuoteParams:
        if (
            self.price_ceiling is not None
            and self.price_floor is not None
            and self.price_floor >= self.price_ceiling
        ):
            raise ValueError("price_floor must be below price_ceiling")
        return self


class FeatureParams(_Strict):
    imbalance_levels: int = Field(5, ge=1)
    imbalance_half_life_ms: float = Field(500.0, gt=0)
    vol_sample_ms: int = Field(1000, ge=10)
    vol_half_life_samples: float = Field(30.0, gt=0)
    vol_warmup_samples: int = Field(10, ge=1)
    regime_window: int = Field(300, ge=3)
    regime_min_samples: int = Field(30, ge=3)
    signal_sample_ms: int = Field(1000, ge=10)
    signal_slope_threshold_bps: float = Field(0.1, ge=0)
    toxicity_drift_bps: float = Field(3.0, gt=0)
    toxicity_imbalance: float = Field(0.65, gt=0, le=1)
    toxicity_aggressor_share: float = Field(0.7, gt=0.5, le=1)
    toxicity_aggressor_window: int = Field(50, ge=1)


class RiskParams(_Strict):
    max_position_usd: float = Field(500.0, gt=0)
    max_position_units: float | None = Field(None, gt=0)
    daily_loss_limit_usd: float = Field(50.0, gt=0)
    max_drawdown_usd: float = Field(100.0, gt=0)
    max_consecutive_errors: int = Field(5, ge=1)
    vol_spike_multiple: float = Field(
        4.0, gt=1, description="circuit break when vol > x its slow average"
    )
    cooldown_s: float = Field(30.0, ge=0)
    trailing_stop_bps: float = Field(0.0, ge=0, description="0 = off")
    break_even_trigger_bps: float = Field(0.0, ge=0, description="0 = off")
    stale_book_ms: float = Field(
        5000.0, gt=0, description="no quotes from a book older than this (live)"
    )
    max_exch_lag_ms: float = Field(
        2000.0,
        ge=0,
        description="no quotes while a book message's exchange time lags its receive time "
        "(corrected by the measured clock offset) by more than this; 0 = off",
    )
    resync_after_ms: float = Field(
        1000.0,
        gt=0,
        description="live: the book unusable this long -> ask the source to resubscribe",
    )
    resync_backoff_max_ms: float = Field(
        30000.0,
        gt=0,
        description="live: resync requests of one unusable spell double their gap up to this",
    )
    kill_file: str | None = Field(
        None,
        description="live/paper: if this file exists, the kill switch trips (cancel all, stop)",
    )

    @model_validator(mode="after")
    def _resync_delays(self) -> RiskParams:
        if self.resync_backoff_max_ms < self.resync_after_ms:
            raise ValueError("resync_backoff_max_ms must be >= resync_after_ms")
        return self


class OrderParams(_Strict):
    replace_threshold_ticks: int = Field(
        1, ge=0, description="skip price changes smaller than this"
    )
    # below Bybit's 10/s per order group: at the venue's own limit, actions queue in the
    # gateway and resting quotes trail the desired ones (measured: ~0.5 s at 10/s, burst 20)
    rate_limit_per_s: float = Field(
        8.0, gt=0, description="order actions per second (token bucket)"
    )
    rate_burst: int = Field(8, ge=1)
    max_order_usd: float = Field(
        1000.0, gt=0, description="pre-trade check: max notional per order"
    )
    max_open_orders: int = Field(20, ge=1)
    price_band_bps: float = Field(
        500.0, gt=0, description="pre-trade check: |price - mid| within this"
    )
    client_id_prefix: str = Field("mm", min_length=1, max_length=8, pattern=r"^[A-Za-z0-9]+$")


class FeeParams(_Strict):
    # rates, not bps or percent: |rate| < 1 % catches a fee typed in the wrong unit
    maker: float = Field(
        -0.00015, gt=-0.01, lt=0.01, description="maker fee rate; negative = rebate"
    )
    taker: float = Field(0.00045, gt=-0.01, lt=0.01, description="taker fee rate")


class SimParams(_Strict):
    """The simulated venue (backtest and paper mode only)."""

    order_latency_ms: float = Field(5.0, ge=0)
    response_latency_ms: float = Field(5.0, ge=0)
    md_latency: Literal["constant", "recorded"] = "constant"
    md_latency_ms: float = Field(5.0, ge=0)
    queue_model: Literal["risk_averse", "power", "log"] = "risk_averse"
    queue_power: float = Field(2.0, gt=0)
    modify_model: Literal["auto", "keep_priority", "cancel_replace"] = Field(
        "auto",
        description="amend semantics: keep_priority (Bybit: a size decrease keeps the queue "
        "place), cancel_replace (Hyperliquid: every modify is a new order at the back); "
        "auto follows the venue",
    )


class StrategyParams(_Strict):
    quote: QuoteParams = QuoteParams()
    features: FeatureParams = FeatureParams()
    risk: RiskParams = RiskParams()
    orders: OrderParams = OrderParams()
    fees: FeeParams = FeeParams()
    sim: SimParams = SimParams()
    pnl_sample_ms: int = Field(1000, ge=10, description="PnL series sampling interval")


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out
