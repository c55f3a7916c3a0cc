"""The composite score of a run: what "better parameters" means.

score = w_sharpe x Sharpe + w_pnl x return % of capital - w_drawdown x drawdown % of
capital + w_fill_rate x fill rate - w_inventory x average |inventory| / max position.
Sharpe is clipped to +-``sharpe_clip`` (a few minutes of data give Sharpes in the
thousands, which would drown every other term). A run that breaches a risk limit (its
drawdown reaches ``risk.max_drawdown_usd`` or its loss ``risk.daily_loss_limit_usd``)
scores ``WORST``, whatever it earned.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from core.errors import ConfigError
from core.params import StrategyParams

WORST = -1e9

# the summary fields the score reads: a trial and `mm backtest` must agree on these
SCORE_INPUTS = (
    "net_pnl",
    "sharpe_annualized",
    "max_drawdown",
    "pnl_to_usd",
    "fill_rate",
    "avg_abs_inventory_usd",
    "fills",
    "risk_state",
)


@dataclass(frozen=True)
class Weights:
    sharpe: float = 0.01
    pnl: float = 1.0
    drawdown: float = 1.0
    fill_rate: float = 0.1
    inventory: float = 0.1
    sharpe_clip: float = 100.0

    @classmethod
    def parse(cls, text: str | None) -> Weights:
        """``"sharpe=0.02,pnl=1"``: named weights over the defaults."""
        if not text:
            return cls()
        known = {f.name for f in fields(cls)}
        values: dict[str, float] = {}
        for part in text.split(","):
            key, sep, value = part.partition("=")
            key = key.strip()
            if not sep or key not in known:
                raise ConfigError(
                    f"bad weight {part.strip()!r}",
                    f"write NAME=NUMBER with NAME one of {', '.join(sorted(known))}",
                )
            try:
                values[key] = float(value)
            except ValueError:
                raise ConfigError(f"weight {key}={value!r} is not a number") from None
        return cls(**values)

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def breach(summary: dict[str, Any], params: StrategyParams) -> str | None:
    """Which risk limit the run breached, or None (limits are USD: coin PnL at the mid)."""
    usd = _usd_per_pnl_unit(summary)
    drawdown, loss = summary["max_drawdown"] * usd, -summary["net_pnl"] * usd
    if drawdown >= params.risk.max_drawdown_usd:
        return f"drawdown {drawdown:.4f} >= max_drawdown_usd {params.risk.max_drawdown_usd}"
    if loss >= params.risk.daily_loss_limit_usd:
        return f"loss {loss:.4f} >= daily_loss_limit_usd {params.risk.daily_loss_limit_usd}"
    return None


def _usd_per_pnl_unit(summary: dict[str, Any]) -> float:
    """1 for linear runs (PnL in the quote); the last mid for inverse ones (PnL in the coin)."""
    return float(summary.get("pnl_to_usd") or 1.0)


def score(summary: dict[str, Any], params: StrategyParams, w: Weights) -> float:
    """The composite score of one run summary (higher is better)."""
    if breach(summary, params) is not None:
        return WORST
    capital = params.quote.capital_usd
    sharpe = summary.get("sharpe_annualized") or 0.0
    sharpe = max(-w.sharpe_clip, min(w.sharpe_clip, sharpe))
    usd = _usd_per_pnl_unit(summary)
    ret = summary["net_pnl"] * usd / capital * 100
    dd = summary["max_drawdown"] * usd / capital * 100
    fill = summary.get("fill_rate") or 0.0
    inv = (summary.get("avg_abs_inventory_usd") or 0.0) / params.risk.max_position_usd
    return (
        w.sharpe * sharpe + w.pnl * ret - w.drawdown * dd + w.fill_rate * fill - w.inventory * inv
    )


def score_inputs(summary: dict[str, Any]) -> dict[str, Any]:
    return {k: summary.get(k) for k in SCORE_INPUTS}
