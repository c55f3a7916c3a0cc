"""HTML reports: one self-contained file per run (or two runs side by side) and per day.

Everything the page needs is inline: CSS and SVG plots, no scripts, no CDN, so a report
opens offline and can be mailed or archived. Numbers come from the DuckDB views
(``warehouse.duck``), the same SQL a user can run with ``mm sql``; the summary table is
the run's own summary.json. The output is deterministic: same run -> same bytes.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import MMError
from warehouse import plots
from warehouse.attribution import attribute
from warehouse.duck import Catalog, RunDir, parse_run
from warehouse.runs import read_run_summary

MAX_POINTS = 4000  # per plotted series; more points only make the SVG heavier

CSS = """
body { font-family: -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif; margin: 24px;
       color: #222; background: #fff; }
h1 { font-size: 20px; margin-bottom: 4px; } h2 { font-size: 16px; margin-top: 28px;
     border-bottom: 1px solid #ddd; padding-bottom: 4px; } h3 { font-size: 13px; }
.meta { color: #666; font-size: 12px; }
table { border-collapse: collapse; font-size: 12px; margin: 8px 0 16px; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: right; }
th:first-child, td:first-child { text-align: left; }
th { background: #f4f4f4; }
.grid { display: grid; grid-template-columns: repeat(var(--cols), minmax(0, 1fr)); gap: 12px; }
.plot { border: 1px solid #eee; padding: 4px; }
.plot svg { width: 100%; height: auto; display: block; }
.neg { color: #b2182b; } .pos { color: #1a7837; }
.note { color: #666; font-size: 12px; }
.cols { display: flex; flex-wrap: wrap; gap: 16px; align-items: flex-start; }
"""


def atomic_write_text(path: Path, text: str) -> None:
    """A reader (a browser, a mailer) never sees half a report."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.tmp"
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


# -- formatting ---------------------------------------------------------------------------
def fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value != value:
            return "n/a"
        if value == 0:
            return "0"
        if abs(value) >= 1e5:
            return f"{value:,.0f}"
        return f"{value:,.6g}" if abs(value) >= 1e-4 else f"{value:.3e}"
    return str(value)


def _cell(value: Any) -> str:
    cls = ""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value == value:
        cls = ' class="neg"' if value < 0 else ""
    return f"<td{cls}>{html.escape(fmt(value))}</td>"


def table(header: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + f"<td>{html.escape(str(r[0]))}</td>" + "".join(_cell(v) for v in r[1:]) + "</tr>"
        for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, key + "."))
        elif isinstance(v, list):
            out[key] = json.dumps(v) if len(v) < 8 else f"[{len(v)} items]"
        else:
            out[key] = v
    return out


@dataclass
class _Page:
    title: str
    cols: int = 1
    parts: list[str] = field(default_factory=list)
    plot_count: int = 0

    def add(self, text: str) -> None:
        self.parts.append(text)

    def plots(self, svgs: list[str], cols: int | None = None) -> None:
        """A grid of plots, ``cols`` per row (default: all in one row)."""
        cells = []
        for svg in svgs:
            self.plot_count += 1
            cells.append(f'<div class="plot">{plots.prefix_ids(svg, f"p{self.plot_count}-")}</div>')
        n = cols or len(svgs)
        self.add(f'<div class="grid" style="--cols:{n}">{"".join(cells)}</div>')

    def render(self) -> str:
        return (
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{html.escape(self.title)}</title><style>{CSS}</style></head><body>"
            + "\n".join(self.parts)
            + "</body></html>\n"
        )


# -- data ---------------------------------------------------------------------------------
def _arrays(cat: Catalog, sql: str, params: list[Any]) -> dict[str, np.ndarray]:
    t = cat.query(sql, params)
    out = {}
    for name in t.column_names:
        col = t.column(name)
        arr = col.to_numpy(zero_copy_only=False)
        if arr.dtype == object:
            arr = np.array([np.nan if v is None else v for v in arr], dtype=float)
        out[name] = arr
    return out


def _has(cat: Catalog, *views: str) -> bool:
    return all(v in cat.views for v in views)


_WHERE = "run = $1 AND run_id = $2 AND venue = $3 AND symbol = $4"


def _run_plots(cat: Catalog, run: str, run_id: str, venue: str, symbol: str) -> dict[str, str]:
    """The report's plots for one run and instrument."""
    p = [run, run_id, venue, symbol]
    out: dict[str, str] = {}
    end_ts = None
    if _has(cat, "attribution_intervals"):
        a = _arrays(
            cat,
            "SELECT start_ts, pnl, spread_capture, inventory, fees_rebates, residual "
            f"FROM attribution_intervals WHERE {_WHERE} ORDER BY start_ts",
            p,
        )
        idx = plots.thin(len(a["start_ts"]), MAX_POINTS)
        comps = {k: np.cumsum(v)[idx] for k, v in a.items() if k != "start_ts"}
        out["pnl"] = plots.cumulative_pnl(a["start_ts"][idx], comps)
    else:
        out["pnl"] = plots.cumulative_pnl(np.zeros(0), {})
    if _has(cat, "pnl"):
        r = _arrays(
            cat,
            f"SELECT recv_ts, position_f, mid, risk_state FROM pnl WHERE {_WHERE} "
            "ORDER BY recv_ts, seq",
            p,
        )
        end_ts = int(r["recv_ts"][-1]) if len(r["recv_ts"]) else None
        idx = plots.thin(len(r["recv_ts"]), MAX_POINTS)
        out["inventory"] = plots.inventory(r["recv_ts"][idx], r["position_f"][idx])
        mid_ts, mid = r["recv_ts"][idx], r["mid"][idx]
        # risk changes are rare and short: keep every change, not a thinned sample
        change = np.r_[True, np.diff(r["risk_state"]) != 0]
        out["risk"] = plots.risk_timeline(r["recv_ts"][change], r["risk_state"][change], end_ts)
    else:
        empty = np.zeros(0)
        out["inventory"] = plots.inventory(empty, empty)
        out["risk"] = plots.risk_timeline(empty, empty)
        mid_ts = mid = empty
    q = {"ts": np.zeros(0), "bid": np.zeros(0), "ask": np.zeros(0)}
    if _has(cat, "quotes"):
        q = _arrays(
            cat,
            "SELECT min(recv_ts) AS ts, max(price_f) FILTER (WHERE side = 1 AND level = 0) AS bid, "
            "max(price_f) FILTER (WHERE side = -1 AND level = 0) AS ask "
            f"FROM quotes WHERE {_WHERE} GROUP BY seq ORDER BY ts, seq",
            p,
        )
    f = {"recv_ts": np.zeros(0), "price_f": np.zeros(0), "side": np.zeros(0)}
    if _has(cat, "fills"):
        f = _arrays(
            cat, f"SELECT recv_ts, price_f, side FROM fills WHERE {_WHERE} ORDER BY recv_ts, seq", p
        )
    qi = plots.thin(len(q["ts"]), MAX_POINTS)
    fi = plots.thin(len(f["recv_ts"]), MAX_POINTS)
    out["quotes"] = plots.quotes_vs_mid(
        q["ts"][qi], q["bid"][qi], q["ask"][qi], mid_ts, mid,
        f["recv_ts"][fi], f["price_f"][fi], f["side"][fi],
    )  # fmt: skip
    curves: dict[str, tuple[list[int], list[float | None]]] = {}
    if _has(cat, "markout_curve"):
        for side, label in ((1, "buys"), (-1, "sells"), (0, "all fills")):
            rows = cat.rows(
                f"SELECT horizon_s, avg_bps FROM markout_curve WHERE {_WHERE} AND side = $5 "
                "ORDER BY horizon_s",
                [*p, side],
            )
            if any(r["avg_bps"] is not None for r in rows):
                curves[label] = ([r["horizon_s"] for r in rows], [r["avg_bps"] for r in rows])
    out["markouts"] = plots.markout_curves(curves)
    levels: list[int] = []
    rates: dict[tuple[int, int], tuple[float, int]] = {}
    if _has(cat, "fill_rates"):
        for r in cat.rows(
            "SELECT side, level, fills, fills_per_quote_minute FROM fill_rates "
            f"WHERE {_WHERE} AND level >= 0 ORDER BY level",
            p,
        ):
            rates[(r["level"], r["side"])] = (r["fills_per_quote_minute"] or 0.0, r["fills"])
        levels = sorted({lv for lv, _ in rates})
    out["fill_rates"] = plots.fill_rates(
        levels,
        [rates.get((lv, 1), (0.0, 0))[0] for lv in levels],
        [rates.get((lv, -1), (0.0, 0))[0] for lv in levels],
        [rates.get((lv, 1), (0.0, 0))[1] for lv in levels],
        [rates.get((lv, -1), (0.0, 0))[1] for lv in levels],
    )
    return out


PLOT_ORDER = ("pnl", "inventory", "quotes", "markouts", "fill_rates", "risk")


def _one(cat: Catalog, sql: str, p: list[Any]) -> dict[str, Any]:
    rows = cat.rows(sql, p)
    return rows[0] if rows else {}


def _metrics(cat: Catalog, run: str, run_id: str, venue: str, symbol: str) -> dict[str, Any]:
    """Key numbers from the views (what `mm sql` would show) for one run and instrument."""
    p = [run, run_id, venue, symbol]
    m: dict[str, Any] = {}
    if _has(cat, "attribution"):
        for a in attribute(cat, run, run_id=run_id):
            if (a.venue, a.symbol) == (venue, symbol):
                m.update({
                    "total PnL": a.total_pnl, "  spread capture": a.spread_capture,
                    "  inventory (mark-to-market)": a.inventory,
                    "  fees & rebates": a.fees_rebates, "  residual": a.residual,
                    "PnL variance explained": a.variance_explained,
                })  # fmt: skip
    if _has(cat, "maker_share"):
        r = _one(cat, f"SELECT * FROM maker_share WHERE {_WHERE}", p)
        m.update({"fills": r.get("fills", 0), "maker share": r.get("maker_share")})
    if _has(cat, "spread_capture"):
        r = _one(cat, f"SELECT capture_bps FROM spread_capture WHERE {_WHERE} AND side = 0", p)
        m["spread captured (bps of notional)"] = r.get("capture_bps")
    if _has(cat, "markout_curve"):
        for r in cat.rows(
            f"SELECT horizon_s, avg_bps FROM markout_curve WHERE {_WHERE} AND side = 0 "
            "AND horizon_s > 0 ORDER BY horizon_s",
            p,
        ):
            m[f"markout {r['horizon_s']} s (bps)"] = r["avg_bps"]
    if _has(cat, "cancel_ratio"):
        r = _one(cat, f"SELECT * FROM cancel_ratio WHERE {_WHERE}", p)
        m.update({"orders placed": r.get("placed"), "cancel ratio": r.get("cancel_ratio"),
                  "order fill ratio": r.get("order_fill_ratio")})  # fmt: skip
    if _has(cat, "inventory"):
        r = _one(cat, f"SELECT * FROM inventory WHERE {_WHERE}", p)
        m.update({"avg |position| (time-weighted)": r.get("avg_abs_position"),
                  "max |position|": r.get("max_abs_position"),
                  "avg |inventory value|": r.get("avg_abs_inventory_usd"),
                  "time flat": r.get("time_flat")})  # fmt: skip
    return m


def _terms(cat: Catalog, venue: str, symbol: str) -> str:
    """What the instrument's money is in: "PnL in BTC (inverse, 1 contract = 100 USD)"."""
    if not _has(cat, "instruments"):
        return "PnL in the quote currency"
    r = _one(cat, "SELECT kind, contract_size, settle_currency, quote_currency, lot_size "
             "FROM instruments WHERE venue = $1 AND symbol = $2 ORDER BY source LIMIT 1",
             [venue, symbol])  # fmt: skip
    if not r:
        return "PnL in the quote currency"
    if r["kind"] == "inverse":
        return (
            f"PnL, fees and drawdown in {r['settle_currency']} (inverse: one lot is "
            f"{r['lot_size']} contract of {r['contract_size']} {r['quote_currency']}; "
            f"notional in {r['quote_currency']})"
        )
    return f"PnL in {r['settle_currency']} ({r['kind']})"


def _instruments(cat: Catalog) -> list[tuple[str, str, str, str]]:
    """(run, run_id, venue, symbol) of every run and instrument with rows."""
    parts = [f"SELECT DISTINCT run, run_id, venue, symbol FROM {v}"
             for v in ("pnl", "quotes", "fills") if v in cat.views]  # fmt: skip
    if not parts:
        return []
    return [
        (r["run"], r["run_id"], r["venue"], r["symbol"])
        for r in cat.rows(" UNION ".join(parts) + " ORDER BY venue, symbol, run, run_id")
    ]


def _one_run_each(runs: list[RunDir], insts: list[tuple[str, str, str, str]]) -> dict[str, str]:
    """The run id of each run directory: a report shows one trading run per directory."""
    ids: dict[str, set[str]] = {}
    for run, run_id, _, _ in insts:
        ids.setdefault(run, set()).add(run_id)
    for r in runs:
        have = sorted(ids.get(r.name, ()))
        if len(have) > 1:
            raise MMError(
                f"{r.path} holds {len(have)} trading runs ({', '.join(have)})",
                "a report shows one run per directory (`mm backtest --out` writes one); "
                f'list them with `mm sql --run {r.path} "SELECT * FROM runs"`',
            )
    return {run: next(iter(v)) for run, v in ids.items()}


def _summary(run: RunDir, run_id: str | None) -> dict[str, Any]:
    summary = read_run_summary(run.path, run_id) if run_id is not None else None
    return flatten(summary) if summary else {}


@dataclass
class ReportResult:
    out: Path
    runs: list[str]
    instruments: list[str]
    plots: int
    bytes: int

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "out": str(self.out)}


def _names(run_dir: Path, compare: Path | None) -> list[RunDir]:
    runs = [parse_run(run_dir)]
    if compare is not None:
        other = parse_run(compare)
        if other.name == runs[0].name:
            runs = [
                RunDir(f"A:{runs[0].name}", runs[0].path),
                RunDir(f"B:{other.name}", other.path),
            ]
        else:
            runs.append(other)
    for r in runs:
        if not r.path.is_dir():
            raise MMError(
                f"run directory {r.path} does not exist",
                "pass a directory `mm backtest --out` wrote",
            )
    return runs


def run_report(run_dir: Path, out: Path | None = None, compare: Path | None = None) -> ReportResult:
    """Write the HTML report of a run (optionally side by side with a second run)."""
    runs = _names(Path(run_dir), Path(compare) if compare is not None else None)
    out = Path(out) if out is not None else runs[0].path / "report.html"
    names = [r.name for r in runs]
    with Catalog(runs=runs) as cat:
        insts = _instruments(cat)
        if not insts:
            raise MMError(
                f"no run tables in {', '.join(str(r.path) for r in runs)}",
                "is this a run directory written by `mm backtest --out`?",
            )
        page = _Page(f"mm report: {' vs '.join(names)}", cols=len(runs))
        page.add(f"<h1>Run report: {html.escape(' vs '.join(names))}</h1>")
        page.add('<p class="meta">' + "<br>".join(
            f"{html.escape(r.name)}: {html.escape(str(r.path.resolve()))}" for r in runs) + "</p>")  # fmt: skip
        run_ids = _one_run_each(runs, insts)
        summaries = [_summary(r, run_ids.get(r.name)) for r in runs]
        keys = list(dict.fromkeys(k for s in summaries for k in s))
        header = ["summary.json", *names] + (["B - A"] if len(runs) == 2 else [])
        rows = []
        for k in keys:
            vals = [s.get(k) for s in summaries]
            if len(runs) == 2:
                a, b = vals
                num = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals)
                vals.append(b - a if num else None)
            rows.append([k, *vals])
        page.add("<h2>Summary</h2>")
        if rows:  # long: split into side-by-side tables
            n = 3 if len(runs) == 1 else 2
            size = -(-len(rows) // n)
            chunks = [table(header, rows[i : i + size]) for i in range(0, len(rows), size)]
            page.add(f'<div class="cols">{"".join(chunks)}</div>')
        else:
            page.add('<p class="note">no summary.json in the run</p>')
        by_inst: dict[tuple[str, str], list[str]] = {}
        for run, _, venue, symbol in insts:
            by_inst.setdefault((venue, symbol), []).append(run)
        for (venue, symbol), have in by_inst.items():
            page.add(f"<h2>{html.escape(venue)}:{html.escape(symbol)}</h2>")
            page.add(f'<p class="meta">{html.escape(_terms(cat, venue, symbol))}</p>')
            metrics = {
                n: _metrics(cat, n, run_ids[n], venue, symbol) if n in have else {} for n in names
            }
            mkeys = list(dict.fromkeys(k for m in metrics.values() for k in m))
            page.add("<h3>Attribution and key metrics (from the DuckDB views)</h3>")
            page.add(
                table(["metric", *names], [[k, *(metrics[n].get(k) for n in names)] for k in mkeys])
            )
            figs = {n: _run_plots(cat, n, run_ids[n], venue, symbol) for n in names if n in have}
            if len(figs) == 1:  # one run: two plots per row
                page.plots([next(iter(figs.values()))[k] for k in PLOT_ORDER], cols=2)
            else:  # two runs: each row is one plot kind, run A | run B
                for kind in PLOT_ORDER:
                    page.plots([figs[n][kind] for n in names if n in figs])
    text = page.render()
    atomic_write_text(out, text)
    return ReportResult(
        out, names, [f"{v}:{s}" for v, s in by_inst], page.plot_count, len(text.encode())
    )


# -- daily report over the lake -------------------------------------------------------------
def daily_report(
    lake: Path,
    out: Path,
    day: str | None = None,
    runs: tuple[str | Path, ...] = (),
) -> dict[str, Any]:
    """Per symbol per day: trading (daily_summary) and market (market_daily) tables + plots.

    Returns the rows shown, for schedulers that post them elsewhere.
    """
    lake = Path(lake)
    with Catalog(lake, runs) as cat:
        where, params = ("WHERE date = CAST($1 AS DATE)", [day]) if day else ("", [])
        trading = (
            cat.rows(f"SELECT * FROM daily_summary {where}", params)
            if _has(cat, "daily_summary")
            else []
        )
        market = (
            cat.rows(f"SELECT * FROM market_daily {where}", params)
            if _has(cat, "market_daily")
            else []
        )
        if not trading and not market:
            what = f" for {day}" if day else ""
            raise MMError(
                f"no trading or market data{what} in {lake}", "import or record data first"
            )
        title = f"Daily report {day}" if day else "Daily report"
        page = _Page(f"mm {title.lower()}: {lake}")
        page.add(
            f"<h1>{html.escape(title)}</h1><p class='meta'>lake {html.escape(str(lake.resolve()))}</p>"
        )
        page.add("<h2>Trading (daily_summary)</h2>")
        if trading:
            cols = ["run", "run_id", "venue", "symbol", "date", "pnl", "fees", "gross_pnl", "sharpe",
                    "max_drawdown", "volume", "fills", "maker_share", "end_position"]  # fmt: skip
            page.add(table(cols, [[r.get(c) for c in cols] for r in trading]))
            labels = [f"{r['symbol']} {r['date']} ("
                      + (f"{r['run']}:" if r["run"] != "lake" else "") + f"{r['run_id']})"
                      for r in trading]  # fmt: skip
            page.plots([plots.daily_bars(labels, {"net PnL": [r["pnl"] for r in trading]},
                                         "Net PnL per symbol and day", "quote currency")], cols=2)  # fmt: skip
        else:
            page.add('<p class="note">no trading in the lake (no pnl / fills tables)</p>')
        page.add("<h2>Market (market_daily)</h2>")
        if market:
            cols = list(market[0])
            page.add(table(cols, [[r.get(c) for c in cols] for r in market]))
            labels = [f"{r['symbol']} {r['date']}" for r in market]
            series = {"trades": [r["trades"] for r in market]}
            svgs = [plots.daily_bars(labels, series, "Trades per symbol and day", "trades")]
            if _has(cat, "book_top"):
                for r in market:
                    b = _arrays(
                        cat,
                        "SELECT recv_ts, mid FROM book_top WHERE venue = $1 AND symbol = $2 "
                        "AND date = $3 ORDER BY recv_ts",
                        [r["venue"], r["symbol"], r["date"]],
                    )
                    idx = plots.thin(len(b["recv_ts"]), MAX_POINTS)
                    svgs.append(plots.price_line(b["recv_ts"][idx], b["mid"][idx],
                                                 f"{r['venue']}:{r['symbol']} mid on {r['date']}"))  # fmt: skip
            page.plots(svgs, cols=2)
        else:
            page.add('<p class="note">no market data (trades) in the lake</p>')
    text = page.render()
    atomic_write_text(Path(out), text)
    return {
        "out": str(out),
        "day": day,
        "plots": page.plot_count,
        "trading": trading,
        "market": market,
    }
