"""DuckDB catalog over the Parquet lake and run directories: views, never copies.

One DuckDB database (in memory, or a file other tools can open) gets a view per lake
table that reads the Parquet files in place (``read_parquet(..., hive_partitioning)``),
so new files show up in the next query and nothing is duplicated. Run tables (quotes,
orders, fills, pnl) union the lake's own (paper/live trading, ``run = 'lake'``) with
every run directory given (``run = <name>``); ``run_id`` tells the trading runs of one
source apart (every paper/live restart into a lake is a run of its own), and the
``runs`` view lists them with their mode, time span, row counts and summary. Rows
written before run ids existed have ``run_id = 'legacy'``: one run per source, which is
what such a lake could hold without losing rows. Integer ticks/lots stay as they are;
float prices appear next to them (``*_f`` columns, ticks x tick_size from the
instruments each source recorded).

``read_only``: after the views are built the session may only read (SELECT, EXPLAIN):
every other statement is refused before DuckDB sees it, and DuckDB itself is locked to
the attached directories (``enable_external_access = false`` with ``allowed_directories``,
configuration locked), so ``COPY ... TO`` into a lake partition, ATTACH, INSTALL or
reading files elsewhere fail with one line. ``mm sql`` is read-only unless ``--unsafe``.

A table with no files anywhere has no view; the catalog remembers why, so a query
naming it fails with "view X has no data: ..." instead of DuckDB's bare "does not
exist". Derived views (``warehouse.analytics``, ``warehouse.attribution``) are created
only when every view they read exists.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from core.errors import MMError
from core.lake import LEGACY_RUN_ID, MARKET_TABLES, RUN_ID, RUN_TABLES, table_def
from warehouse.runs import RUNS_DIR

LAKE_RUN = "lake"  # run name of run tables stored in the lake itself (paper/live trading)
MARKET_VIEWS = (*MARKET_TABLES, "features")
_HIVE = "hive_partitioning=true, hive_types={'venue': VARCHAR, 'symbol': VARCHAR, 'date': DATE}"


class QueryError(MMError):
    """Bad SQL, or a query over a view that has no data."""


@dataclass(frozen=True)
class RunDir:
    """A run directory (``mm backtest --out``) and the name its rows carry in ``run``."""

    name: str
    path: Path


def parse_run(arg: str | Path | RunDir) -> RunDir:
    """``DIR`` (named after its last path part) or ``NAME=DIR``."""
    if isinstance(arg, RunDir):
        return arg
    text = str(arg)
    name, sep, path = text.partition("=")
    if sep and name and "/" not in name and not Path(text).is_dir():
        return RunDir(name, Path(path))
    p = Path(text)
    return RunDir(p.resolve().name or text, p)


def _contract_terms(files: list[Path]) -> str:
    """The kind / contract_size / settle_currency columns of the instruments view.

    Spec files written before inverse contracts existed have none of them: they are
    linear, with a contract size of 1 and PnL in the quote currency.
    """
    names: set[str] = set()
    for f in files:
        names.update(pq.read_schema(f).names)
    kind = "CAST(kind AS VARCHAR)" if "kind" in names else "NULL::VARCHAR"
    size = "CAST(contract_size AS VARCHAR)" if "contract_size" in names else "NULL::VARCHAR"
    settle = "CAST(settle_currency AS VARCHAR)" if "settle_currency" in names else "NULL::VARCHAR"
    return (
        f"COALESCE({kind}, 'linear') AS kind, COALESCE({size}, '1') AS contract_size, "
        f"COALESCE(NULLIF({settle}, ''), CAST(quote_currency AS VARCHAR)) AS settle_currency"
    )


def _lit(value: str | Path) -> str:
    """SQL string literal."""
    return "'" + str(value).replace("'", "''") + "'"


def _has_files(root: Path, table: str) -> bool:
    return any((root / table).glob("venue=*/symbol=*/date=*/*.parquet"))


def _scan(root: Path, table: str) -> str:
    glob = root.resolve() / table / "venue=*" / "symbol=*" / "date=*" / "*.parquet"
    return f"read_parquet({_lit(glob)}, {_HIVE}, union_by_name=true)"


def _nan_null(col: str) -> str:
    """NaN (the trader's "unknown") -> NULL, so aggregates skip it.

    Not ``isnan``/``NULLIF``: pyarrow leaves NaN out of Parquet min/max statistics and
    DuckDB then folds those to "never NaN" (duckdb issues 7803, 25521); ``isfinite`` is
    not folded.
    """
    return f"CASE WHEN isfinite({col}) THEN {col} END"


def _time(col: str = "recv_ts") -> str:
    return f"make_timestamp({col} // 1000)"


# float columns each table gets next to its integer ticks/lots: name -> expression
_MARKET_FLOATS: dict[str, str] = {
    "trades": "t.price * i.tick AS price_f, t.qty * i.lot AS qty_f, "
    "t.price * i.tick * t.qty * i.lot AS notional",
    "bbo": "t.bid_price * i.tick AS bid_price_f, t.ask_price * i.tick AS ask_price_f, "
    "t.bid_qty * i.lot AS bid_qty_f, t.ask_qty * i.lot AS ask_qty_f, "
    "(t.bid_price + t.ask_price) * i.tick / 2 AS mid, "
    "(t.ask_price - t.bid_price) / ((t.bid_price + t.ask_price) / 2) * 1e4 AS spread_bps",
    "book_deltas": "t.price * i.tick AS price_f, t.qty * i.lot AS qty_f",
    "features": "t.best_bid * i.tick AS best_bid_f, t.best_ask * i.tick AS best_ask_f, "
    "t.bid_qty * i.lot AS bid_qty_f, t.ask_qty * i.lot AS ask_qty_f",
}
_RUN_FLOATS: dict[str, str] = {
    "quotes": "",
    "orders": "t.price * i.tick AS price_f, t.qty * i.lot AS qty_f, t.filled * i.lot AS filled_f",
    "fills": "",
    "pnl": "",
}
_RUN_NAN: dict[str, tuple[str, ...]] = {
    "quotes": ("price_f", "qty_f", "mid", "reservation", "half_spread_bps", "vol_bps", "toxicity"),
    "fills": ("mid_at_fill", "mid_1s", "mid_5s", "mid_30s", "mid_60s"),
    "pnl": ("mid",),
}

_DESCRIPTIONS = {
    "instruments": "tick/lot size, kind (linear/inverse/spot), contract size and PnL "
    "(settlement) currency of every instrument in the lake and the runs (source = run)",
    "sources": "the sources attached: run name (lake = the lake) and directory",
    "runs": "trading runs per source and instrument: run_id, mode, time span, row counts, "
    "summary (JSON; NULL: still running or crashed)",
    "trades": "lake trades, prices/sizes as ticks/lots and floats (price_f, qty_f)",
    "bbo": "lake best bid/offer updates with float prices, mid and spread_bps",
    "book_deltas": "lake order-book deltas and snapshots",
    "features": "lake top-of-book features (mm replay-book)",
    "book_top": "top of book over time: bbo where recorded, else the features table",
    "quotes": "desired quotes per side/level each time they changed (side 0 = quoting nothing)",
    "orders": "order lifecycle rows with float prices",
    "fills": "own fills with mid at fill and at +1/5/30/60 s (NULL if the data ended first)",
    "pnl": "PnL samples (every pnl_sample_ms and after each fill / risk-state change)",
    "trials": "mm optimize trials per study: score, params (JSON), summary fields, state",
    "param_decisions": "mm optimize apply-gate decisions: target, applied, reason, scores, window",
}


@dataclass
class Catalog:
    """The views over one lake and any number of run directories, in one DuckDB database.

    ``database`` is ``":memory:"`` or a file path; a file keeps the views (with absolute
    paths) for the DuckDB CLI or notebooks.
    """

    lake: Path | None = None
    runs: Sequence[str | Path | RunDir] = ()
    database: str | Path = ":memory:"
    con: duckdb.DuckDBPyConnection = field(init=False, repr=False)
    views: dict[str, str] = field(init=False, default_factory=dict)
    missing: dict[str, str] = field(init=False, default_factory=dict)
    run_dirs: list[RunDir] = field(init=False, default_factory=list)
    read_only: bool = False

    def __post_init__(self) -> None:
        self.lake = Path(self.lake) if self.lake is not None else None
        if self.lake is not None and not self.lake.is_dir():
            raise MMError(
                f"lake {self.lake} does not exist",
                "import data first with `mm import`, or fix --lake",
            )
        self.run_dirs = _check_runs([parse_run(r) for r in self.runs])
        self.con = duckdb.connect(str(self.database))
        self._build()
        if self.read_only:
            self._lock()

    # -- building -------------------------------------------------------------------------
    def _sources(self) -> list[tuple[str, Path]]:
        out = [(LAKE_RUN, self.lake)] if self.lake is not None else []
        return out + [(r.name, r.path) for r in self.run_dirs]

    def _where(self) -> str:
        parts = [f"lake {self.lake}"] if self.lake is not None else []
        parts += [f"run {r.name} ({r.path})" for r in self.run_dirs]
        return ", ".join(parts) or "no lake or run attached"

    def create_view(self, name: str, sql: str, description: str) -> None:
        self.con.execute(f"CREATE OR REPLACE VIEW {name} AS {sql}")
        self.views[name] = description
        self.missing.pop(name, None)

    def mark_missing(self, name: str, reason: str) -> None:
        self.con.execute(f"DROP VIEW IF EXISTS {name}")
        self.views.pop(name, None)
        self.missing[name] = reason

    def derive(self, name: str, needs: Iterable[str], sql: str, description: str) -> bool:
        """Create a derived view if every view it reads exists, else record why not."""
        absent = [n for n in needs if n not in self.views]
        if absent:
            verb = "has" if len(absent) == 1 else "have"
            self.mark_missing(name, f"needs {', '.join(absent)}, which {verb} no data")
            return False
        self.create_view(name, sql, description)
        return True

    def _build(self) -> None:
        self._instruments()
        runs = " UNION ALL ".join(
            f"SELECT {_lit(n)} AS run, {_lit(p.resolve())} AS path" for n, p in self._sources()
        )
        self.create_view(
            "sources",
            runs or "SELECT NULL::VARCHAR AS run, NULL::VARCHAR AS path WHERE false",
            _DESCRIPTIONS["sources"],
        )
        for table in MARKET_VIEWS:
            self._market_view(table)
        self._book_top()
        for table in RUN_TABLES:
            self._run_view(table)
        self._runs()
        self._optimize_views()
        from warehouse.analytics import create_analytics_views
        from warehouse.attribution import create_attribution_views

        create_analytics_views(self)
        create_attribution_views(self)

    def _instruments(self) -> None:
        parts = []
        for name, root in self._sources():
            files = sorted((root / "instruments").glob("venue=*/symbol=*/spec.parquet"))
            if files:
                glob = root.resolve() / "instruments" / "venue=*" / "symbol=*" / "spec.parquet"
                parts.append(
                    f"SELECT {_lit(name)} AS source, venue, symbol, "
                    "CAST(tick_size AS VARCHAR) AS tick_size, CAST(lot_size AS VARCHAR) AS lot_size, "
                    "CAST(tick_size AS DOUBLE) AS tick, CAST(lot_size AS DOUBLE) AS lot, "
                    "CAST(quote_currency AS VARCHAR) AS quote_currency, "
                    f"{_contract_terms(files)} "
                    f"FROM read_parquet({_lit(glob)}, hive_partitioning=true, "
                    "hive_types={'venue': VARCHAR, 'symbol': VARCHAR}, union_by_name=true)"
                )
        empty = (
            "SELECT NULL::VARCHAR AS source, NULL::VARCHAR AS venue, NULL::VARCHAR AS symbol, "
            "NULL::VARCHAR AS tick_size, NULL::VARCHAR AS lot_size, NULL::DOUBLE AS tick, "
            "NULL::DOUBLE AS lot, NULL::VARCHAR AS quote_currency, NULL::VARCHAR AS kind, "
            "NULL::VARCHAR AS contract_size, NULL::VARCHAR AS settle_currency WHERE false"
        )
        self.create_view(
            "instruments", " UNION ALL ".join(parts) or empty, _DESCRIPTIONS["instruments"]
        )

    def _market_view(self, table: str) -> None:
        if self.lake is None:
            self.mark_missing(table, "no lake attached (pass --lake)")
            return
        if not _has_files(self.lake, table):
            self.mark_missing(table, f"no {table} files in lake {self.lake}")
            return
        sql = (
            f"SELECT t.venue, t.symbol, t.date, t.* EXCLUDE (venue, symbol, date), "
            f"{_time('t.recv_ts')} AS time, {_MARKET_FLOATS[table]} "
            f"FROM {_scan(self.lake, table)} t LEFT JOIN instruments i "
            f"ON i.source = {_lit(LAKE_RUN)} AND i.venue = t.venue AND i.symbol = t.symbol"
        )
        self.create_view(table, sql, _DESCRIPTIONS[table])

    def _book_top(self) -> None:
        cols = (
            "venue, symbol, date, recv_ts, time, bid_price, ask_price, bid_price_f, ask_price_f, "
            "bid_qty_f, ask_qty_f, mid, spread_bps"
        )
        parts = []
        if "bbo" in self.views:
            parts.append(f"SELECT {cols}, 'bbo' AS source FROM bbo")
        if "features" in self.views:
            feat = (
                "SELECT venue, symbol, date, recv_ts, time, best_bid AS bid_price, "
                "best_ask AS ask_price, best_bid_f AS bid_price_f, best_ask_f AS ask_price_f, "
                "bid_qty_f, ask_qty_f, mid, (best_ask_f - best_bid_f) / mid * 1e4 AS spread_bps, "
                "'features' AS source FROM features WHERE valid"
            )
            if parts:
                feat += " AND (venue, symbol) NOT IN (SELECT DISTINCT venue, symbol FROM bbo)"
            parts.append(feat)
        if not parts:
            self.mark_missing("book_top", "needs bbo or features, which has no data")
            return
        self.create_view("book_top", " UNION ALL ".join(parts), _DESCRIPTIONS["book_top"])

    def _run_view(self, table: str) -> None:
        scans = [
            f"SELECT {_lit(name)} AS run, * FROM {_scan(root, table)}"
            for name, root in self._sources()
            if _has_files(root, table)
        ]
        if not scans and not self._has_run_data():
            self.mark_missing(table, f"no {table} files in {self._where()}")
            return
        # a run without fills is a fact (zero rows), not missing data: an empty view. The
        # typed empty scan also gives sources that predate run_id the column (NULL).
        union = " UNION ALL BY NAME ".join([_empty_scan(table), *scans])
        nan = [f"{_nan_null('t.' + c)} AS {c}" for c in _RUN_NAN.get(table, ())]
        replace = f" REPLACE ({', '.join(nan)})" if nan else ""
        floats = _RUN_FLOATS[table]
        sql = (
            f"SELECT t.run, COALESCE(t.{RUN_ID}, {_lit(LEGACY_RUN_ID)}) AS {RUN_ID}, "
            f"t.venue, t.symbol, t.date, "
            f"t.* EXCLUDE (run, {RUN_ID}, venue, symbol, date){replace}, "
            f"{_time('t.recv_ts')} AS time{', ' + floats if floats else ''} "
            f"FROM ({union}) t LEFT JOIN instruments i "
            "ON i.source = t.run AND i.venue = t.venue AND i.symbol = t.symbol"
        )
        self.create_view(table, sql, _DESCRIPTIONS[table])

    def _runs(self) -> None:
        """One row per run and instrument of every source: the rows it left in the run
        tables, the run's record (mode, start) and its summary, whichever exist."""
        keys = "run, run_id, venue, symbol"
        counts = [
            f"SELECT {keys}, {_lit(t)} AS tbl, count(*) AS n, min(recv_ts) AS lo, "
            f"max(recv_ts) AS hi FROM {t} GROUP BY ALL"
            for t in RUN_TABLES
            if t in self.views
        ]
        manifests, summaries = [], []
        for name, root in self._sources():
            base = root.resolve() / RUNS_DIR
            if any(base.glob("*/run.json")):
                manifests.append(
                    f"SELECT {_lit(name)} AS run, run_id, mode, started_ns, "
                    "unnest(instruments) AS inst "
                    f"FROM read_json({_lit(base / '*' / 'run.json')}, columns = "
                    "{'run_id': 'VARCHAR', 'mode': 'VARCHAR', 'instruments': 'VARCHAR[]', "
                    "'started_ns': 'BIGINT'})"
                )
            if any(base.glob("*/summaries/*.json")):
                summaries.append(_summary_scan(name, base / "*" / "summaries" / "*.json", None))
            legacy = root.resolve() / "summaries"  # per instrument, before run ids
            if any(legacy.glob("*.json")):
                summaries.append(_summary_scan(name, legacy / "*.json", LEGACY_RUN_ID))
        none = "SELECT NULL::VARCHAR AS run, NULL::VARCHAR AS run_id, NULL::VARCHAR AS venue, "
        none += "NULL::VARCHAR AS symbol"
        c = " UNION ALL ".join(counts) or (
            f"{none}, NULL::VARCHAR AS tbl, 0 AS n, 0 AS lo, 0 AS hi WHERE false"
        )
        m = " UNION ALL ".join(manifests) or (
            "SELECT NULL::VARCHAR AS run, NULL::VARCHAR AS run_id, NULL::VARCHAR AS mode, "
            "NULL::BIGINT AS started_ns, NULL::VARCHAR AS inst WHERE false"
        )
        sm = " UNION ALL ".join(summaries) or f"{none}, NULL::JSON AS summary WHERE false"
        per_table = ", ".join(
            f"COALESCE(sum(n) FILTER (WHERE tbl = {_lit(t)}), 0)::BIGINT AS {t}" for t in RUN_TABLES
        )
        sql = f"""
WITH c AS ({c}),
m AS (SELECT run, run_id, mode, started_ns, split_part(inst, ':', 1) AS venue,
             substr(inst, strpos(inst, ':') + 1) AS symbol FROM ({m})),
s AS ({sm}),
k AS (SELECT {keys} FROM c UNION SELECT {keys} FROM m UNION SELECT {keys} FROM s),
a AS (SELECT {keys}, min(lo) AS lo, max(hi) AS hi, {per_table} FROM c GROUP BY ALL)
SELECT k.run, k.run_id, m.mode, k.venue, k.symbol,
       {_time("a.lo")} AS start_time, {_time("a.hi")} AS end_time,
       {_time("m.started_ns")} AS started_at,
       {", ".join(f"COALESCE(a.{t}, 0) AS {t}" for t in RUN_TABLES)},
       CAST(s.summary->>'net_pnl' AS DOUBLE) AS net_pnl,
       CAST(s.summary->>'pnl_currency' AS VARCHAR) AS pnl_currency, s.summary, src.path
FROM k LEFT JOIN a USING ({keys}) LEFT JOIN m USING ({keys}) LEFT JOIN s USING ({keys})
LEFT JOIN sources src USING (run)
ORDER BY k.run, COALESCE(a.lo, m.started_ns), k.run_id, k.venue, k.symbol
"""
        self.create_view("runs", sql, _DESCRIPTIONS["runs"])

    def _optimize_views(self) -> None:
        """``trials`` and ``param_decisions``: what ``mm optimize`` left in the lake."""
        for name, sub in (("trials", "optimize/trials"), ("param_decisions", "optimize/decisions")):
            if self.lake is None or not any((self.lake / sub).glob("*.parquet")):
                where = f"lake {self.lake}" if self.lake is not None else "no lake attached"
                self.mark_missing(name, f"no {sub} files in {where} (run `mm optimize`)")
                continue
            glob = self.lake.resolve() / sub / "*.parquet"
            sql = f"SELECT * FROM read_parquet({_lit(glob)}, union_by_name=true)"
            self.create_view(name, sql, _DESCRIPTIONS[name])

    def _has_run_data(self) -> bool:
        """True if any source holds run tables (a run directory always does)."""
        return bool(self.run_dirs) or (
            self.lake is not None and any(_has_files(self.lake, t) for t in RUN_TABLES)
        )

    def _lock(self) -> None:
        """Read-only from here on: DuckDB may read only the sources' directories, may not
        load extensions, and no setting can be changed back (``query`` refuses writes)."""
        dirs = ", ".join(_lit(f"{root.resolve()}/") for _, root in self._sources())
        for stmt in (
            f"SET allowed_directories = [{dirs}]",
            "SET enable_external_access = false",
            "SET autoinstall_known_extensions = false",
            "SET autoload_known_extensions = false",
            "SET lock_configuration = true",
        ):
            self.con.execute(stmt)
        self.read_only = True

    # -- querying -------------------------------------------------------------------------
    def query(self, sql: str, params: Sequence[Any] | None = None) -> pa.Table:
        """Run SQL; errors become one-line QueryErrors that name missing views."""
        if self.read_only:
            check_read_only(sql)
        try:
            rel = self.con.sql(sql, params=params)
            if rel is None:  # a statement without a result (SET, CREATE ...)
                return pa.table({})
            # duckdb 2 renamed Relation.arrow (1.x) to to_arrow_table
            fetch = getattr(rel, "to_arrow_table", None) or rel.arrow
            return fetch()
        except duckdb.Error as exc:
            raise self._explain(exc) from None

    def rows(self, sql: str, params: Sequence[Any] | None = None) -> list[dict[str, Any]]:
        return self.query(sql, params).to_pylist()

    def _explain(self, exc: duckdb.Error) -> QueryError:
        text = str(exc)
        m = re.search(r"Table with name (\w+) does not exist", text)
        if m and m.group(1).lower() in self.missing:
            name = m.group(1).lower()
            return QueryError(f"view {name} has no data: {self.missing[name]}")
        lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
        msg = lines[0] if lines else type(exc).__name__
        hint = next((ln for ln in lines[1:] if ln.startswith("Did you mean")), None)
        if isinstance(exc, duckdb.CatalogException):
            hint = f"{hint + '; ' if hint else ''}`mm sql` with no query lists the views"
        if isinstance(exc, duckdb.PermissionException) and self.read_only:
            hint = f"the session reads only {self._where()}; {UNSAFE_HINT}"
        return QueryError(msg, hint)

    def columns(self, view: str) -> list[tuple[str, str]]:
        rel = self.con.execute(f"SELECT * FROM {view} LIMIT 0")
        return [(d[0], str(d[1])) for d in rel.description]

    def describe(self) -> dict[str, Any]:
        """Every view with its columns, and the views that are absent with the reason."""
        return {
            "views": {
                name: {"description": desc, "columns": dict(self.columns(name))}
                for name, desc in sorted(self.views.items())
            },
            "missing": dict(sorted(self.missing.items())),
        }

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_SQL_TYPES = {
    pa.int64(): "BIGINT",
    pa.int8(): "TINYINT",
    pa.float64(): "DOUBLE",
    pa.string(): "VARCHAR",
    pa.bool_(): "BOOLEAN",
}


def _empty_scan(table: str) -> str:
    """A typed, empty stand-in for ``_scan`` (same columns, zero rows)."""
    cols = ["NULL::VARCHAR AS run", "NULL::VARCHAR AS venue", "NULL::VARCHAR AS symbol"]
    cols.append("NULL::DATE AS date")
    cols += [f"NULL::{_SQL_TYPES[f.type]} AS {f.name}" for f in table_def(table).schema]
    return f"SELECT {', '.join(cols)} WHERE false"


UNSAFE_HINT = "pass --unsafe for a full DuckDB session"
# what a read-only session may run (EXPLAIN only of such a statement: ANALYZE runs it)
_READ_ONLY = {duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN}
_EXPLAIN = re.compile(r"^\s*explain\s+(?:\([^)]*\)\s*)?(?:analy[sz]e\s+)?", re.IGNORECASE)


def check_read_only(sql: str, _inner: bool = False) -> None:
    """Refuse, before DuckDB runs anything, a statement that is not a pure read."""
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error:
        if _inner:
            raise QueryError("cannot tell what this EXPLAIN runs", UNSAFE_HINT) from None
        return  # DuckDB reports the syntax error itself, and runs nothing
    for st in statements:
        kind = st.type
        if kind not in _READ_ONLY:
            name = kind.name.replace("_", " ")
            raise QueryError(
                f"{name} statements are refused: `mm sql` is read-only over the lake", UNSAFE_HINT
            )
        if kind == duckdb.StatementType.EXPLAIN:
            m = _EXPLAIN.match(st.query)
            if m is None:
                raise QueryError("cannot tell what this EXPLAIN runs", UNSAFE_HINT)
            check_read_only(st.query[m.end() :], _inner=True)


def _summary_scan(source: str, glob: Path, run_id: str | None) -> str:
    """Summary files -> (run, run_id, venue, symbol, summary JSON); ``run_id`` None: the
    run id is the directory name (``runs/<run_id>/summaries/<venue>__<symbol>.json``)."""
    parts = r"([^/]+)/summaries/(.+)__(.+)\.json$"
    rid = _lit(run_id) if run_id is not None else f"regexp_extract(filename, {_lit(parts)}, 1)"
    return (
        f"SELECT {_lit(source)} AS run, {rid} AS run_id, "
        f"regexp_extract(filename, {_lit(parts)}, 2) AS venue, "
        f"regexp_extract(filename, {_lit(parts)}, 3) AS symbol, "
        f"CAST(content AS JSON) AS summary FROM read_text({_lit(glob)})"
    )


def _check_runs(runs: list[RunDir]) -> list[RunDir]:
    seen: dict[str, Path] = {}
    for r in runs:
        if not r.path.is_dir():
            raise MMError(
                f"run directory {r.path} does not exist",
                "pass a directory `mm backtest --out` wrote",
            )
        if r.name == LAKE_RUN:
            raise MMError(
                f"run name {LAKE_RUN!r} is reserved for the lake's own runs", "use NAME=DIR"
            )
        if r.name in seen:
            raise MMError(
                f"two runs named {r.name!r} ({seen[r.name]} and {r.path})",
                "name them with NAME=DIR",
            )
        seen[r.name] = r.path
    return runs
