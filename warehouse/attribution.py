"""PnL attribution: where a run's PnL came from.

The PnL table's total is ``cash + position x mid - fees`` and it has a row after every
fill, so between two consecutive rows (at most one fill apart) the change is exactly

    Δtotal = position_prev x (mid - mid_prev)        inventory (mark-to-market)
           + side x (mid_at_fill - price) x qty      spread capture (0 without a fill)
           - fee                                     fees and rebates

An inverse (coin-margined) contract's rows are in the coin, ``total = cash - position x
contract_size / mid - fees`` (position in contracts' size, contract size in USD), so

    inventory       -position_prev x contract_size x (1/mid - 1/mid_prev)
    spread capture  side x notional x (1/price - 1/mid_at_fill)   (notional: USD)

Summed over a run these are the components; the residual (total minus the three) is
float rounding plus anything the identity does not see (a fill before the first mid,
a mid missing from a row). Per-interval sums (1 s buckets by default) give the
"variance explained": 1 - var(residual) / var(Δtotal), and each component's share
cov(component, Δtotal) / var(Δtotal) (the shares and the residual's sum to 1).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from core.timeutil import NS_PER_MS

if TYPE_CHECKING:
    from warehouse.duck import Catalog

K = "run, run_id, venue, symbol"
COMPONENTS = ("spread_capture", "inventory", "fees_rebates", "residual")


def intervals_sql(bucket_ns: int = 1000 * NS_PER_MS) -> str:
    """Per-bucket PnL change and its components (buckets of local receive time)."""
    b = int(bucket_ns)
    if b <= 0:
        raise ValueError("bucket must be positive")
    return f"""
WITH inst AS (
  SELECT venue, symbol, bool_or(kind = 'inverse') AS inverse,
         max(CAST(contract_size AS DOUBLE)) AS cs
  FROM instruments GROUP BY venue, symbol),
p AS (
  SELECT {K}, recv_ts, seq, total, mid, COALESCE(inst.inverse, false) AS inverse, inst.cs,
         lag(position_f) OVER w AS pos_prev, lag(mid) OVER w AS mid_prev,
         lag(total) OVER w AS total_prev
  FROM pnl LEFT JOIN inst USING (venue, symbol)
  WINDOW w AS (PARTITION BY {K} ORDER BY recv_ts, seq)),
pb AS (
  SELECT {K}, recv_ts // {b} AS bucket, sum(total - COALESCE(total_prev, 0)) AS pnl,
         sum(COALESCE(CASE WHEN inverse THEN -pos_prev * cs * (1 / mid - 1 / mid_prev)
                           ELSE pos_prev * (mid - mid_prev) END, 0)) AS inventory,
         last(total ORDER BY recv_ts, seq) AS total
  FROM p GROUP BY {K}, bucket),
fb AS (
  SELECT {K}, recv_ts // {b} AS bucket, count(*) AS fills,
         COALESCE(sum(CASE WHEN COALESCE(inst.inverse, false)
                           THEN side * notional * (1 / price_f - 1 / mid_at_fill)
                           ELSE side * (mid_at_fill - price_f) * qty_f END), 0) AS spread_capture,
         -sum(fee) AS fees_rebates
  FROM fills LEFT JOIN inst USING (venue, symbol) GROUP BY {K}, bucket)
SELECT {K}, bucket * {b} AS start_ts, make_timestamp(bucket * {b} // 1000) AS time,
       COALESCE(pnl, 0) AS pnl, COALESCE(spread_capture, 0) AS spread_capture,
       COALESCE(inventory, 0) AS inventory, COALESCE(fees_rebates, 0) AS fees_rebates,
       COALESCE(pnl, 0) - COALESCE(spread_capture, 0) - COALESCE(inventory, 0)
         - COALESCE(fees_rebates, 0) AS residual,
       COALESCE(fills, 0) AS fills, total
FROM pb FULL OUTER JOIN fb USING ({K}, bucket)
ORDER BY {K}, start_ts
"""


def summary_sql(intervals: str = "attribution_intervals") -> str:
    """Per run and instrument: the components, the residual and variance shares."""
    shares = ", ".join(
        f"covar_samp({c}, pnl) / NULLIF(var_samp(pnl), 0) AS {c}_var_share" for c in COMPONENTS
    )
    return f"""
WITH i AS (SELECT * FROM {intervals}),
t AS (SELECT {K}, last(total ORDER BY recv_ts, seq) AS total_pnl FROM pnl GROUP BY {K}),
s AS (
  SELECT {K}, count(*) AS intervals, CAST(sum(fills) AS BIGINT) AS fills, sum(spread_capture) AS spread_capture,
         sum(inventory) AS inventory, sum(fees_rebates) AS fees_rebates,
         1 - var_samp(residual) / NULLIF(var_samp(pnl), 0) AS variance_explained, {shares}
  FROM i GROUP BY {K})
SELECT {K}, COALESCE(t.total_pnl, 0) AS total_pnl, s.spread_capture, s.inventory, s.fees_rebates,
       COALESCE(t.total_pnl, 0) - s.spread_capture - s.inventory - s.fees_rebates AS residual,
       s.variance_explained, {", ".join(f"s.{c}_var_share" for c in COMPONENTS)},
       s.intervals, s.fills
FROM s LEFT JOIN t USING ({K})
"""


def create_attribution_views(cat: Catalog) -> None:
    if cat.derive(
        "attribution_intervals",
        ["pnl", "fills", "instruments"],
        intervals_sql(),
        "PnL change per 1 s bucket split into spread capture, inventory, fees/rebates, residual",
    ):
        cat.derive(
            "attribution",
            ["attribution_intervals"],
            summary_sql(),
            "per run: total PnL = spread capture + inventory + fees/rebates + residual, "
            "and the share of PnL variance each explains",
        )
    else:
        cat.mark_missing("attribution", "needs attribution_intervals, which has no data")


@dataclass(frozen=True)
class Attribution:
    """One run's (and instrument's) PnL split (``run``: its source, ``run_id``: the run). Components sum to ``total_pnl``."""

    run: str
    run_id: str
    venue: str
    symbol: str
    total_pnl: float
    spread_capture: float
    inventory: float
    fees_rebates: float
    residual: float
    variance_explained: float | None
    spread_capture_var_share: float | None
    inventory_var_share: float | None
    fees_rebates_var_share: float | None
    residual_var_share: float | None
    intervals: int
    fills: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def attribute(
    cat: Catalog, run: str | None = None, bucket_ms: int = 1000, run_id: str | None = None
) -> list[Attribution]:
    """PnL attribution of every run (or one source, or one run id) in the catalog, with
    ``bucket_ms`` intervals."""
    if "attribution_intervals" not in cat.views:
        from warehouse.duck import QueryError

        raise QueryError(f"cannot attribute PnL: {cat.missing.get('attribution_intervals')}")
    sql = summary_sql(f"({intervals_sql(bucket_ms * NS_PER_MS)})")
    sql = (
        f"SELECT * FROM ({sql}) WHERE ($1 IS NULL OR run = $1) AND ($2 IS NULL OR run_id = $2) "
        f"ORDER BY {K}"
    )
    return [Attribution(**r) for r in cat.rows(sql, [run, run_id])]
