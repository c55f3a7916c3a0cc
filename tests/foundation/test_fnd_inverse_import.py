"""Import of inverse (coin-margined) captures: Binance COIN-M detection, Bybit BTCUSD
resolving to its inverse spec, the derived COIN-M capture's conversion, and the DuckDB
instruments view (old spec files read as linear)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bench.derive_coinm import contracts, derive_message
from connectors.binance.loader import BinanceCoinMLoader, BinanceFuturesLoader, is_coinm_symbol
from connectors.bybit.instruments import refuse_inverse
from core.errors import MMError
from core.lake import read_instrument
from warehouse.duck import Catalog
from warehouse.importer import detect_format, import_file

USDM_DEPTH = {
    "stream": "btcusdt@depth@0ms",
    "data": {"e": "depthUpdate", "E": 1, "T": 1, "s": "BTCUSDT", "U": 1, "u": 2, "pu": 0,
             "b": [["61800.20", "0.014"]], "a": []},
}  # fmt: skip
COINM_DEPTH = derive_message(USDM_DEPTH)
USDM_SNAPSHOT = {"lastUpdateId": 5, "E": 1, "T": 1, "bids": [["61800.20", "0.5"]], "asks": []}


def test_coinm_symbols_and_the_two_binance_loaders_claim_their_own() -> None:
    assert [is_coinm_symbol(s) for s in ("BTCUSD_PERP", "ETHUSD_250328", "BTCUSD")] == [True] * 3
    assert [is_coinm_symbol(s) for s in ("BTCUSDT", "BTCUSDT_250328", "ETHUSDC")] == [False] * 3
    usdm, coinm = BinanceFuturesLoader(lambda v, s: None), BinanceCoinMLoader(lambda v, s: None)
    assert (usdm.sniff(USDM_DEPTH), coinm.sniff(USDM_DEPTH)) == (True, False)
    assert (usdm.sniff(COINM_DEPTH), coinm.sniff(COINM_DEPTH)) == (False, True)
    # a snapshot without a symbol stays USD-M's (as before); COIN-M's names its symbol
    assert (usdm.sniff(USDM_SNAPSHOT), coinm.sniff(USDM_SNAPSHOT)) == (True, False)
    coinm_snap = derive_message(USDM_SNAPSHOT)
    assert (usdm.sniff(coinm_snap), coinm.sniff(coinm_snap)) == (False, True)
    assert coinm.venue == "binance-coinm" and coinm.format_name == "binance-coinm"


def test_derived_messages_have_the_coinm_shape() -> None:
    """Quantities become 100 USD contracts: max(1, round(q x p / 100)), 0 stays 0."""
    assert contracts("0.014", "61800.20") == "9"  # 8.652 -> 9
    assert contracts("0.001", "61800.20") == "1"  # 0.618 -> 1
    assert contracts("0.0001", "61800.20") == "1"  # 0.062 rounds to 0: at least one
    assert contracts("0.000", "61800.20") == "0"  # a delete stays a delete
    assert COINM_DEPTH["stream"] == "btcusd_perp@depth@0ms"
    data = COINM_DEPTH["data"]
    assert list(data)[:5] == ["e", "E", "T", "s", "ps"]
    assert (data["s"], data["ps"], data["b"], data["u"]) == (
        "BTCUSD_PERP",
        "BTCUSD",
        [["61800.20", "9"]],
        2,
    )
    snap = derive_message(USDM_SNAPSHOT)
    assert (snap["symbol"], snap["pair"], snap["bids"], snap["lastUpdateId"]) == (
        "BTCUSD_PERP", "BTCUSD", [["61800.20", "309"]], 5,
    )  # fmt: skip


def test_bybit_btcusd_capture_imports_as_the_inverse_contract(tmp_path: Path) -> None:
    """A Bybit inverse order-book download (BTCUSD: tick 0.5, sizes in 1 USD contracts)
    imports with no flags into a spec of kind inverse settling in BTC."""
    msgs = [
        {"topic": "orderbook.50.BTCUSD", "type": "snapshot", "ts": 1733011200000,
         "data": {"s": "BTCUSD", "b": [["96000.5", "1200"], ["96000.0", "35"]],
                  "a": [["96001.0", "800"]], "u": 1, "seq": 10}, "cts": 1733011199990},
        {"topic": "orderbook.50.BTCUSD", "type": "delta", "ts": 1733011200100,
         "data": {"s": "BTCUSD", "b": [["96000.5", "0"]], "a": [["96001.5", "40"]],
                  "u": 2, "seq": 11}, "cts": 1733011200090},
    ]  # fmt: skip
    path = tmp_path / "bybit_btcusd_ob50.data.gz"
    with gzip.open(path, "wt") as fh:
        fh.write("".join(json.dumps(m) + "\n" for m in msgs))
    assert detect_format(path) == "bybit"
    lake = tmp_path / "lake"
    import_file(path, lake, progress=False)
    spec = read_instrument(lake, "bybit", "BTCUSD")
    assert (spec.kind, spec.contract_size, spec.settle_currency) == ("inverse", 1, "BTC")
    rows = (
        duckdb.connect()
        .execute(
            f"SELECT side, price, qty FROM read_parquet('{lake}/book_deltas/**/*.parquet') "
            "ORDER BY seq, side DESC, price"
        )
        .fetchall()
    )
    assert (1, 192_001, 1200) in rows and (-1, 192_003, 40) in rows  # ticks of 0.5, contracts


def test_live_and_paper_refuse_bybit_inverse_symbols() -> None:
    refuse_inverse(["BTCUSDT", "XRPUSDT"])  # linear: fine
    with pytest.raises(MMError, match="BTCUSD, ETHUSD on bybit: inverse") as exc:
        refuse_inverse(["BTCUSDT", "BTCUSD", "ETHUSD"])
    assert "backtest them" in (exc.value.hint or "")


def test_instruments_view_reads_old_spec_files_as_linear(tmp_path: Path) -> None:
    """A spec file written before contract terms existed has no kind / contract_size /
    settle_currency: the view shows linear, 1, and the quote currency."""
    d = tmp_path / "lake" / "instruments" / "venue=bybit" / "symbol=BTCUSDT"
    d.mkdir(parents=True)
    old = {"tick_size": ["0.10"], "lot_size": ["0.001"], "min_notional": ["5"],
           "price_sig_figs": [None], "quote_currency": ["USDT"]}  # fmt: skip
    pq.write_table(pa.table(old), d / "spec.parquet")
    cat = Catalog(lake=tmp_path / "lake")
    rows = cat.rows("SELECT symbol, kind, contract_size, settle_currency FROM instruments")
    assert rows == [
        {"symbol": "BTCUSDT", "kind": "linear", "contract_size": "1", "settle_currency": "USDT"}
    ]
