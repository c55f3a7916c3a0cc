"""Derived DuckDB views: the questions a market maker is judged by, as SQL.

Each view is plain SQL over the catalog's base views, so users can read and adapt it
(``mm sql`` with no query lists them). Conventions:

* ``side`` is +1 (we bought / bid) or -1 (we sold / ask); 0 in per-side views is the
  row for both sides together.
* markouts are signed for us: ``side x (mid_h - price)`` is positive when the mid moved
  our way after the fill. In bps of the fill price (``*_bps``) and in quote currency for
  the fill's size (no suffix). Horizon 0 s is the spread captured against the mid at fill.
* quote-seconds: how long a side/level was quoted. A quote set lasts until the next one
  (or the end of the run: the last PnL row); "quoting nothing" sets add no time.
* every view is per trading run and instrument (``run, run_id, venue, symbol``): the
  trader numbers rows per run (``seq``), so orderings and joins on seq stay within a run.
* Sharpe in ``daily_summary`` follows summary.json: mean/stdev of 1-second changes of
  total PnL, annualised with sqrt(seconds per year).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from warehouse.duck import Catalog

K = "run, run_id, venue, symbol"  # a trading run and instrument: every view's key
HORIZONS_S = (0, 1, 5, 30, 60)
_MID = {0: "mid_at_fill", 1: "mid_1s", 5: "mid_5s", 30: "mid_30s", 60: "mid_60s"}


# fills with their instrument's kind: money of an inverse contract is in the coin
_FILLS = (
    "(SELECT f.*, COALESCE(i.inverse, false) AS inverse FROM fills f LEFT JOIN "
    "(SELECT venue, symbol, bool_or(kind = 'inverse') AS inverse FROM instruments "
    "GROUP BY venue, symbol) i USING (venue, symbol))"
)


def _gain(mid: str) -> str:
    """PnL of a fill held to ``mid``, in the settlement currency: side x (mid - price) x
    qty, or for an inverse contract side x notional (USD) x (1/price - 1/mid) coin."""
    return (
        f"CASE WHEN inverse THEN side * notional * (1 / price_f - 1 / {mid}) "
        f"ELSE side * ({mid} - price_f) * qty_f END"
    )


def _markouts_sql() -> str:
    cols = []
    for h in HORIZONS_S:
        mid = _MID[h]
        cols.append(f"side * ({mid} - price_f) / price_f * 1e4 AS markout_{h}s_bps")
        cols.append(f"{_gain(mid)} AS markout_{h}s")
    return (
        f"SELECT {K}, date, recv_ts, time, seq, client_id, side, level, is_maker, price, qty, "
        f"price_f, qty_f, notional, fee, mid_at_fill, mid_1s, mid_5s, mid_30s, mid_60s, "
        f"{', '.join(cols)} FROM {_FILLS}"
    )


def _markout_curve_sql() -> str:
    long = " UNION ALL ".join(
        f"SELECT {K}, side, {h} AS horizon_s, markout_{h}s_bps AS bps, markout_{h}s AS pnl "
        "FROM markouts"
        for h in HORIZONS_S
    )
    agg = "count(bps) AS fills, avg(bps) AS avg_bps, avg(pnl) AS avg_pnl, sum(pnl) AS total_pnl"
    return (
        f"WITH m AS ({long}) "
        f"SELECT {K}, side, horizon_s, {agg} FROM m GROUP BY {K}, side, horizon_s "
        f"UNION ALL SELECT {K}, 0::TINYINT AS side, horizon_s, {agg} FROM m GROUP BY {K}, horizon_s "
        f"ORDER BY {K}, side DESC, horizon_s"
    )


def _fill_rates_sql(has_pnl: bool) -> str:
    ends = f"SELECT {K}, recv_ts FROM quotes"
    if has_pnl:
        ends += f" UNION ALL SELECT {K}, recv_ts FROM pnl"
    return f"""
WITH sets AS (SELECT {K}, seq, min(recv_ts) AS ts FROM quotes GROUP BY {K}, seq),
ends AS (SELECT {K}, max(recv_ts) AS end_ts FROM ({ends}) GROUP BY {K}),
spans AS (
  SELECT s.run, s.run_id, s.venue, s.symbol, s.seq,
         COALESCE(lead(s.ts) OVER (PARTITION BY s.run, s.run_id, s.venue, s.symbol
                                   ORDER BY s.ts, s.seq),
                  e.end_ts) - s.ts AS dur_ns
  FROM sets s JOIN ends e USING ({K})),
live AS (
  SELECT q.run, q.run_id, q.venue, q.symbol, q.side, q.level,
         sum(sp.dur_ns) / 1e9 AS quote_seconds,
         count(*) AS quote_sets
  FROM quotes q JOIN spans sp USING ({K}, seq) WHERE q.level >= 0
  GROUP BY q.run, q.run_id, q.venue, q.symbol, q.side, q.level),
f AS (SELECT {K}, side, level, count(*) AS fills, sum(qty_f) AS fill_qty,
             sum(notional) AS fill_notional FROM fills GROUP BY {K}, side, level)
SELECT {K}, side, level, COALESCE(quote_seconds, 0) AS quote_seconds,
       COALESCE(quote_sets, 0) AS quote_sets, COALESCE(fills, 0) AS fills,
       COALESCE(fill_qty, 0) AS fill_qty, COALESCE(fill_notional, 0) AS fill_notional,
       COALESCE(fills, 0) / NULLIF(quote_seconds, 0) AS fills_per_quote_second,
       COALESCE(fills, 0) * 60 / NULLIF(quote_seconds, 0) AS fills_per_quote_minute
FROM live FULL OUTER JOIN f USING ({K}, side, level)
ORDER BY {K}, level, side DESC
"""


_MAKER_SHARE = f"""
SELECT {K}, count(*) AS fills, count(*) FILTER (WHERE is_maker) AS maker_fills,
       count(*) FILTER (WHERE is_maker) / count(*) AS maker_share,
       sum(qty_f) FILTER (WHERE is_maker) / sum(qty_f) AS maker_qty_share,
       sum(notional) FILTER (WHERE is_maker) / sum(notional) AS maker_notional_share
FROM fills GROUP BY {K}
"""

_CANCEL_RATIO = f"""
WITH o AS (
  SELECT {K},
    count(*) FILTER (WHERE event = 'place') AS placed,
    count(*) FILTER (WHERE event = 'amend') AS amends,
    count(*) FILTER (WHERE event = 'cancel') AS cancels,
    count(*) FILTER (WHERE event = 'canceled') AS canceled,
    count(*) FILTER (WHERE event = 'rejected') AS rejects,
    count(*) FILTER (WHERE event = 'rejected_pretrade') AS pretrade_rejects
  FROM orders GROUP BY {K}),
f AS (SELECT {K}, count(DISTINCT client_id) AS filled_orders, count(*) AS fills
      FROM fills GROUP BY {K})
SELECT o.*, COALESCE(f.filled_orders, 0) AS filled_orders, COALESCE(f.fills, 0) AS fills,
       cancels / NULLIF(placed, 0) AS cancel_ratio,
       COALESCE(f.filled_orders, 0) / NULLIF(placed, 0) AS order_fill_ratio,
       cancels / NULLIF(f.fills, 0) AS cancels_per_fill
FROM o LEFT JOIN f USING ({K})
"""

# capture_bps: the capture over the notional in the same currency (an inverse contract's
# notional is USD; its coin value is notional / price)
_CAPTURE_AGG = f"""count(*) AS fills, sum(qty_f) AS qty, sum(notional) AS notional,
       sum({_gain("mid_at_fill")}) AS spread_capture,
       sum({_gain("mid_at_fill")})
         / sum(CASE WHEN inverse THEN notional / price_f ELSE notional END) * 1e4 AS capture_bps,
       avg(side * (mid_at_fill - price_f) / price_f * 1e4) AS avg_capture_bps,
       count(*) FILTER (WHERE mid_at_fill IS NULL) AS fills_without_mid"""

_SPREAD_CAPTURE = f"""
SELECT {K}, side, {_CAPTURE_AGG} FROM {_FILLS} GROUP BY {K}, side
UNION ALL
SELECT {K}, 0::TINYINT AS side, {_CAPTURE_AGG} FROM {_FILLS} GROUP BY {K}
ORDER BY {K}, side DESC
"""

_INVENTORY = f"""
WITH p AS (
  SELECT {K}, recv_ts, seq, position_f, inventory_usd,
         COALESCE(lead(recv_ts) OVER w, recv_ts) - recv_ts AS dur
  FROM pnl WINDOW w AS (PARTITION BY {K} ORDER BY recv_ts, seq))
SELECT {K}, sum(dur) / 1e9 AS seconds,
       sum(position_f * dur) / NULLIF(sum(dur), 0) AS avg_position,
       sum(abs(position_f) * dur) / NULLIF(sum(dur), 0) AS avg_abs_position,
       sum(abs(inventory_usd) * dur) / NULLIF(sum(dur), 0) AS avg_abs_inventory_usd,
       max(abs(position_f)) AS max_abs_position,
       max(abs(inventory_usd)) AS max_abs_inventory_usd,
       COALESCE(sum(dur) FILTER (WHERE position_f = 0), 0) / NULLIF(sum(dur), 0) AS time_flat,
       COALESCE(sum(dur) FILTER (WHERE position_f > 0), 0) / NULLIF(sum(dur), 0) AS time_long,
       COALESCE(sum(dur) FILTER (WHERE position_f < 0), 0) / NULLIF(sum(dur), 0) AS time_short,
       last(position_f ORDER BY recv_ts, seq) AS final_position
FROM p GROUP BY {K}
"""

SECONDS_PER_YEAR = 365 * 86400

_DAILY = f"""
WITH d AS (
  SELECT {K}, date, last(total ORDER BY recv_ts, seq) AS end_total,
         max(drawdown) AS max_drawdown, last(position_f ORDER BY recv_ts, seq) AS end_position
  FROM pnl GROUP BY {K}, date),
dd AS (SELECT *, end_total - COALESCE(lag(end_total) OVER (PARTITION BY {K} ORDER BY date), 0)
                 AS pnl FROM d),
s AS (SELECT {K}, recv_ts // 1000000000 AS sec, last(total ORDER BY recv_ts, seq) AS total
      FROM pnl GROUP BY {K}, sec),
sd AS (SELECT {K}, sec, total - lag(total) OVER (PARTITION BY {K} ORDER BY sec) AS change FROM s),
sh AS (SELECT {K}, CAST(make_timestamp(sec * 1000000) AS DATE) AS date,
              avg(change) / NULLIF(stddev_samp(change), 0) * sqrt({SECONDS_PER_YEAR}) AS sharpe
       FROM sd GROUP BY ALL),
f AS (SELECT {K}, date, count(*) AS fills, sum(fee) AS fees, sum(notional) AS volume,
             count(*) FILTER (WHERE is_maker) / count(*) AS maker_share
      FROM fills GROUP BY {K}, date)
SELECT {K}, date, dd.pnl, COALESCE(f.fees, 0) AS fees, dd.pnl + COALESCE(f.fees, 0) AS gross_pnl,
       sh.sharpe, dd.max_drawdown, COALESCE(f.volume, 0) AS volume, COALESCE(f.fills, 0) AS fills,
       f.maker_share, dd.end_position, dd.end_total
FROM dd LEFT JOIN sh USING ({K}, date) LEFT JOIN f USING ({K}, date)
ORDER BY {K}, date
"""


def _market_daily_sql(has_top: bool) -> str:
    trades = """
SELECT venue, symbol, date, count(*) AS trades, sum(qty_f) AS volume, sum(notional) AS notional,
       sum(notional) / sum(qty_f) AS vwap, min(price_f) AS low, max(price_f) AS high,
       first(price_f ORDER BY recv_ts, ord) AS open, last(price_f ORDER BY recv_ts, ord) AS close,
       count(*) FILTER (WHERE side = 1) / count(*) AS buy_share
FROM trades GROUP BY venue, symbol, date ORDER BY venue, symbol, date"""
    if not has_top:
        return trades
    return f"""
WITH t AS ({trades}),
b AS (SELECT venue, symbol, date, avg(spread_bps) AS avg_spread_bps,
             median(spread_bps) AS median_spread_bps, count(*) AS book_updates
      FROM book_top GROUP BY venue, symbol, date)
SELECT * FROM t LEFT JOIN b USING (venue, symbol, date) ORDER BY venue, symbol, date
"""


def create_analytics_views(cat: Catalog) -> None:
    cat.derive(
        "markouts",
        ["fills"],
        _markouts_sql(),
        "per fill: signed markout at 0/1/5/30/60 s in bps (markout_Hs_bps) and currency",
    )
    cat.derive(
        "markout_curve",
        ["markouts"],
        _markout_curve_sql(),
        "average markout by side (0 = both) and horizon: fills, avg_bps, avg_pnl, total_pnl",
    )
    cat.derive(
        "fill_rates",
        ["quotes", "fills"],
        _fill_rates_sql("pnl" in cat.views),
        "fills per quote-second by side and level (level -1: orders outside the quotes)",
    )
    cat.derive("maker_share", ["fills"], _MAKER_SHARE, "maker share of fills, quantity, notional")
    cat.derive(
        "cancel_ratio",
        ["orders", "fills"],
        _CANCEL_RATIO,
        "orders placed, amended, canceled, rejected; cancel_ratio = cancels / placed",
    )
    cat.derive(
        "spread_capture",
        ["fills"],
        _SPREAD_CAPTURE,
        "spread captured against the mid at fill, by side (0 = both), in currency and bps",
    )
    cat.derive(
        "inventory",
        ["pnl"],
        _INVENTORY,
        "time-weighted inventory: avg/max |position|, time flat/long/short, final position",
    )
    cat.derive(
        "daily_summary",
        ["pnl", "fills"],
        _DAILY,
        "per run, symbol and day: PnL, fees, Sharpe (1 s, annualised), drawdown, volume",
    )
    cat.derive(
        "market_daily",
        ["trades"],
        _market_daily_sql("book_top" in cat.views),
        "per symbol and day of lake market data: trades, volume, OHLC, spread",
    )
