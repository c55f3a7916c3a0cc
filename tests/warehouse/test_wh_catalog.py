"""The DuckDB catalog: views over the lake and run directories, floats, missing data."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from wh_data import FILLS, PNL, T0, frame, write_run

from core.errors import MMError
from core.instruments import InstrumentSpec
from warehouse.duck import Catalog, QueryError
from warehouse.lake_writer import write_instrument, write_rows

A = pytest.approx
BTC = InstrumentSpec("binance-usdm", "BTCUSDT", Decimal("0.1"), Decimal("0.001"), Decimal(100))
S = 10**9


def _trade(t: float, tid: str, price: int, qty: int, side: int) -> dict:
    ts = T0 + int(t * S)
    return {"recv_ts": ts, "exch_ts": ts, "ord": int(t * 10), "trade_id": tid, "price": price,
            "qty": qty, "side": side}  # fmt: skip


def _bbo(t: float, seq: int, bid: int, ask: int) -> dict:
    ts = T0 + int(t * S)
    return {"recv_ts": ts, "exch_ts": ts, "ord": int(t * 10), "seq": seq, "bid_price": bid,
            "bid_qty": 5, "ask_price": ask, "ask_qty": 7}  # fmt: skip


TRADES = [
    _trade(1, "t1", 618003, 6, 1),  # 61800.3 x 0.006
    _trade(2, "t2", 618000, 100, -1),  # 61800.0 x 0.100
    _trade(3, "t3", 618010, 1000, 1),  # 61801.0 x 1.000
]
BBO = [_bbo(0.5, 1, 618000, 618001), _bbo(2.5, 2, 618000, 618002)]


@pytest.fixture
def lake(tmp_path: Path) -> Path:
    root = tmp_path / "lake"
    write_instrument(root, BTC)
    write_rows(root, "trades", "binance-usdm", "BTCUSDT", frame("trades", TRADES))
    write_rows(root, "bbo", "binance-usdm", "BTCUSDT", frame("bbo", BBO))
    return root


def test_market_views_expose_float_prices(lake: Path) -> None:
    with Catalog(lake) as cat:
        rows = cat.rows(
            "SELECT trade_id, price, price_f, qty_f, notional FROM trades ORDER BY trade_id"
        )
        top = cat.rows(
            "SELECT bid_price_f, ask_price_f, mid, spread_bps, source FROM book_top ORDER BY recv_ts"
        )
        (day,) = cat.rows("SELECT * FROM market_daily")
    assert rows[0]["price"] == 618003 and rows[0]["price_f"] == A(61800.3, abs=1e-9)
    assert rows[0]["qty_f"] == A(0.006, abs=1e-12)
    assert rows[0]["notional"] == A(370.8018, abs=1e-9)
    assert top[0]["bid_price_f"] == A(61800.0) and top[0]["ask_price_f"] == A(61800.1)
    assert top[0]["mid"] == A(61800.05, abs=1e-9)
    assert top[0]["spread_bps"] == A(1 / 618000.5 * 1e4, abs=1e-12)  # one tick
    assert top[0]["source"] == "bbo"
    assert day["trades"] == 3
    assert day["volume"] == A(1.106, abs=1e-12)  # 0.006 + 0.1 + 1.0
    assert day["notional"] == A(370.8018 + 6180.0 + 61801.0, abs=1e-9)
    assert day["vwap"] == A((370.8018 + 6180.0 + 61801.0) / 1.106, abs=1e-9)
    assert (day["open"], day["close"]) == (A(61800.3), A(61801.0))
    assert (day["low"], day["high"]) == (A(61800.0), A(61801.0))
    assert day["buy_share"] == A(2 / 3)
    assert day["avg_spread_bps"] == A((1 / 618000.5 + 2 / 618001) / 2 * 1e4, abs=1e-12)


def test_missing_tables_explain_themselves(lake: Path) -> None:
    with Catalog(lake) as cat:
        assert "fills" not in cat.views and "book_deltas" not in cat.views
        with pytest.raises(
            QueryError, match=r"view fills has no data: no fills files in lake .*lake"
        ):
            cat.query("SELECT count(*) FROM fills")
        with pytest.raises(QueryError, match="view markouts has no data: needs fills"):
            cat.query("SELECT * FROM markouts")
        with pytest.raises(QueryError, match="view book_deltas has no data"):
            cat.query("SELECT * FROM book_deltas")
        with pytest.raises(QueryError, match='Did you mean "trades"'):
            cat.query("SELECT * FROM trade")
        with pytest.raises(QueryError, match="Parser Error") as err:
            cat.query("SELEC 1")
        assert "\n" not in str(err.value)
        # the lake still answers everything it has
        assert cat.rows("SELECT count(*) AS n FROM trades") == [{"n": 3}]
    with (
        Catalog(runs=[write_run(lake.parent / "runA")]) as cat,
        pytest.raises(QueryError, match=r"view trades has no data: no lake attached"),
    ):
        cat.query("SELECT * FROM trades")


def test_bad_sources_are_clear_errors(tmp_path: Path, hand_run: Path) -> None:
    with pytest.raises(MMError, match=r"lake .*nope does not exist"):
        Catalog(tmp_path / "nope")
    with pytest.raises(MMError, match=r"run directory .*missing does not exist"):
        Catalog(runs=[tmp_path / "missing"])
    with pytest.raises(MMError, match="two runs named 'runA'"):
        Catalog(runs=[hand_run, hand_run])
    with Catalog(runs=[hand_run, f"second={hand_run}"]) as cat:
        runs = cat.rows("SELECT run, count(*) AS n FROM fills GROUP BY run ORDER BY run")
    assert runs == [{"run": "runA", "n": 3}, {"run": "second", "n": 3}]


def test_lake_trading_tables_are_run_lake(lake: Path, hand_run: Path) -> None:
    # paper/live trading writes the run tables into the lake itself
    spec = InstrumentSpec("binance-usdm", "TESTUSDT", Decimal("0.5"), Decimal("0.25"), Decimal(0))
    write_instrument(lake, spec)
    write_rows(lake, "fills", spec.venue, spec.symbol, frame("fills", FILLS))
    write_rows(lake, "pnl", spec.venue, spec.symbol, frame("pnl", PNL))
    with Catalog(lake, [hand_run]) as cat:
        runs = cat.rows("SELECT run, count(*) AS n FROM fills GROUP BY run ORDER BY run")
        (att,) = cat.rows("SELECT total_pnl, spread_capture FROM attribution WHERE run = 'lake'")
        quotes = cat.rows("SELECT run, count(*) AS n FROM quotes GROUP BY run")
    assert runs == [{"run": "lake", "n": 3}, {"run": "runA", "n": 3}]
    assert att == {"total_pnl": 0.96875, "spread_capture": 0.5}
    assert quotes == [{"run": "runA", "n": 7}]  # the lake has no quotes: it adds none


def test_views_read_files_in_place(lake: Path) -> None:
    with Catalog(lake) as cat:
        assert cat.rows("SELECT count(*) AS n FROM trades") == [{"n": 3}]
        write_rows(
            lake,
            "trades",
            "binance-usdm",
            "BTCUSDT",
            frame("trades", [_trade(4, "t4", 618020, 1, 1)]),
        )
        assert cat.rows("SELECT count(*) AS n FROM trades") == [{"n": 4}]  # no rebuild needed


def test_database_file_keeps_the_views(lake: Path, hand_run: Path, tmp_path: Path) -> None:
    db = tmp_path / "mm.duckdb"
    Catalog(lake, [hand_run], db).close()
    con = duckdb.connect(str(db), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM fills").fetchone() == (3,)
        assert con.execute("SELECT total_pnl FROM attribution").fetchone() == (0.96875,)
    finally:
        con.close()


def test_describe_lists_views_and_columns(lake: Path, hand_run: Path) -> None:
    with Catalog(lake, [hand_run]) as cat:
        d = cat.describe()
    need = {"trades", "book_top", "quotes", "orders", "fills", "pnl", "markouts", "fill_rates",
            "maker_share", "cancel_ratio", "spread_capture", "inventory", "daily_summary",
            "attribution", "attribution_intervals", "instruments"}  # fmt: skip
    assert need <= set(d["views"])
    assert d["views"]["markouts"]["columns"]["markout_5s_bps"] == "DOUBLE"
    assert d["views"]["fills"]["columns"]["run"] == "VARCHAR"
    assert set(d["missing"]) == {"book_deltas", "features", "trials", "param_decisions"}
