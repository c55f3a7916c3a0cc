"""tardis.dev CSV import on hand-written files: exact rows and replayed books for the
format's rules (message grouping, snapshot flips, deletes, a level twice in a message,
rows before the first snapshot), and a clear one-line error with nothing written for
each file that cannot be imported."""

from __future__ import annotations

from pathlib import Path

import pytest
from fnd_helpers import json_output, lake_files, lake_table, run_mm

from core.events import ASK, BID, Kind
from core.lake import iter_events
from core.walk import BOOK_KINDS, messages
from operators.book.sync import book_sync_for
from warehouse.importer import import_files
from warehouse.verify import verify_book

BOOK = "exchange,symbol,timestamp,local_timestamp,is_snapshot,side,price,amount"
TRADES = "exchange,symbol,timestamp,local_timestamp,id,side,price,amount"
T0 = 1723161600_000000  # 2024-08-09 00:00:00 UTC in microseconds
S = 1_000  # ns per microsecond


def _write(path: Path, header: str, rows: list[str]) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def _book_rows(exchange: str = "binance-futures", symbol: str = "BTCUSDT") -> list[str]:
    def r(t: int, snap: str, side: str, px: str, amt: str) -> str:
        return f"{exchange},{symbol},{T0 + t - 50},{T0 + t},{snap},{side},{px},{amt}"

    return [
        r(1, "false", "bid", "59000.0", "1.000"),  # before any snapshot: cannot be chained
        r(10, "true", "bid", "60000.0", "1.000"),  # snapshot, in two parts (t=10, t=11)
        r(10, "true", "ask", "60000.5", "2.000"),
        r(11, "true", "bid", "59999.0", "3.000"),
        r(20, "false", "bid", "60000.0", "0"),  # delete
        r(20, "false", "ask", "60000.2", "0.500"),
        r(20, "false", "ask", "60000.2", "0.700"),  # the same level twice: the last wins
        r(30, "true", "bid", "59990.0", "4.000"),  # false -> true: a new snapshot
        r(30, "true", "ask", "59990.5", "5.000"),
        r(40, "false", "ask", "59991.0", "6.000"),
    ]


def _books(lake: Path, venue: str, symbol: str) -> list[tuple[int, dict, dict]]:
    sync = book_sync_for(venue)
    out = []
    for day in iter_events(lake, venue, symbol):
        for m in messages(day):
            if m.kind in BOOK_KINDS:
                sync.on_message(m.kind, m.seq, m.prev_seq, m.first_seq, m.levels)
                if sync.usable:
                    out.append((m.recv_ts, dict(sync.book.bids), dict(sync.book.asks)))
    return out


@pytest.mark.parametrize(
    "exchange,venue", [("binance-futures", "binance-usdm"), ("bybit", "bybit")]
)
def test_book_rules_and_sequencing(tmp_path: Path, exchange: str, venue: str) -> None:
    path = _write(tmp_path / "book.csv", BOOK, _book_rows(exchange))
    lake = tmp_path / "lake"
    report = import_files([path], lake, progress=False)
    assert report.format == "tardis" and report.malformed == 0
    assert any("1 book message(s) came before" in n for n in report.notes)
    t = lake_table(lake, "book_deltas", venue, "BTCUSDT").sort_by([("recv_ts", "ascending")])
    msgs = sorted(
        {(r["recv_ts"], r["seq"], r["prev_seq"], r["first_seq"], r["kind"]) for r in t.to_pylist()}
    )
    snap1, snap2 = (T0 + 10) * S, (T0 + 30) * S
    assert msgs == [
        ((T0 + 1) * S, (T0 + 1) * S, -2, -2, Kind.BOOK_DELTA),  # unanchored: a gap if synced
        (snap1, snap1, -1, -1, Kind.BOOK_SNAPSHOT),
        ((T0 + 11) * S, snap1 + 1, snap1, snap1, Kind.BOOK_DELTA),  # the snapshot's 2nd part
        ((T0 + 20) * S, snap1 + 2, snap1 + 1, snap1 + 1, Kind.BOOK_DELTA),
        (snap2, snap2, -1, -1, Kind.BOOK_SNAPSHOT),
        ((T0 + 40) * S, snap2 + 1, snap2, snap2, Kind.BOOK_DELTA),
    ]
    assert set(t.column("exch_ts").to_pylist()) == {
        (T0 + x - 50) * S for x in (1, 10, 11, 20, 30, 40)
    }
    # the replayed book after each message (ticks of 0.1, lots of 0.001)
    assert _books(lake, venue, "BTCUSDT") == [
        (snap1, {600000: 1000}, {600005: 2000}),
        ((T0 + 11) * S, {600000: 1000, 599990: 3000}, {600005: 2000}),
        ((T0 + 20) * S, {599990: 3000}, {600002: 700, 600005: 2000}),
        (snap2, {599900: 4000}, {599905: 5000}),
        ((T0 + 40) * S, {599900: 4000}, {599905: 5000, 599910: 6000}),
    ]
    v = verify_book(lake, venue, "BTCUSDT", progress=False)
    assert (v["snapshots"], v["gaps"], v["crossed"], v["final_state"]) == (2, 0, 0, "SYNCED")
    # the row before the first snapshot is never applied (Binance: held, then stale)
    assert v["dropped_unsynced"] + v["dropped_stale"] == 1


def test_hyperliquid_messages_become_full_books(tmp_path: Path) -> None:
    # Hyperliquid's sync takes every message as a whole book: the importer sends whole books
    rows = [
        f"hyperliquid,BTC,{T0},{T0 + 1},true,bid,60000,0.5",
        f"hyperliquid,BTC,{T0},{T0 + 1},true,ask,60001,0.25",
        f"hyperliquid,BTC,{T0 + 5},{T0 + 6},false,ask,60002,1",
        f"hyperliquid,BTC,{T0 + 5},{T0 + 6},false,bid,60000,0",
    ]
    lake = tmp_path / "lake"
    import_files([_write(tmp_path / "hl.csv", BOOK, rows)], lake, progress=False)
    t = lake_table(lake, "book_deltas", "hyperliquid", "BTC").sort_by("ord").to_pylist()
    got = [(r["recv_ts"], r["kind"], r["side"], r["price"], r["qty"]) for r in t]
    one, six = (T0 + 1) * S, (T0 + 6) * S
    assert got == [  # tick 1, lot 0.00001
        (one, Kind.BOOK_SNAPSHOT, BID, 600000, 50000),
        (one, Kind.BOOK_SNAPSHOT, ASK, 600010, 25000),
        (six, Kind.BOOK_SNAPSHOT, ASK, 600010, 25000),
        (six, Kind.BOOK_SNAPSHOT, ASK, 600020, 100000),
    ]


def test_trades_rows_exact_and_bad_rows_skipped(tmp_path: Path) -> None:
    rows = [
        f"binance-futures,BTCUSDT,{T0},{T0 + 7},5001,buy,60000.1,0.010",
        f"binance-futures,BTCUSDT,{T0 + 1},{T0 + 8},,sell,60000.0,0.002",  # no id
        f"binance-futures,BTCUSDT,{T0 + 2},{T0 + 9},5003,unknown,60000.0,0.002",
        f"binance-futures,BTCUSDT,{T0 + 3},{T0 + 10},5004,sell,60000.05,0.002",  # off tick
    ]
    lake = tmp_path / "lake"
    report = import_files([_write(tmp_path / "t.csv", TRADES, rows)], lake, progress=False)
    assert (report.messages, report.malformed) == (2, 2)
    assert [n for n, _ in report.malformed_lines] == [4, 5]
    assert "trade side 'unknown' is not buy/sell" in report.malformed_lines[0][1]
    assert "not a multiple of tick size 0.10" in report.malformed_lines[1][1]
    t = lake_table(lake, "trades", "binance-usdm", "BTCUSDT").sort_by("recv_ts").to_pylist()
    cols = ("recv_ts", "exch_ts", "trade_id", "price", "qty", "side")
    assert [tuple(r[c] for c in cols) for r in t] == [
        ((T0 + 7) * S, T0 * S, "5001", 600001, 10, 1),
        (
            (T0 + 8) * S,
            (T0 + 1) * S,
            f"tardis:{(T0 + 1) * S}:{(T0 + 8) * S}:-1:60000.0:0.002",
            600000,
            2,
            -1,
        ),
    ]


def _fails(tmp_path: Path, *paths: Path) -> str:
    lake = tmp_path / "refused_lake"
    proc = run_mm("import", *map(str, paths), "--lake", str(lake), cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mm import: error: "), proc.stderr
    assert [p for p in lake_files(lake) if p.suffix in (".parquet", ".json")] == []
    return lines[0]


def test_unknown_exchange_is_refused(tmp_path: Path) -> None:
    good = _write(tmp_path / "a.csv", BOOK, _book_rows())
    bad = _write(tmp_path / "b.csv", TRADES, [f"kraken,XBTUSD,{T0},{T0 + 1},1,buy,60000,1"])
    err = _fails(tmp_path, good, bad)  # the good file is not imported either
    assert "b.csv line 2: tardis exchange 'kraken' is not supported" in err
    assert (
        "known exchanges: binance-futures (binance-usdm), binance-delivery (binance-coinm)" in err
    )


def test_unsorted_timestamps_are_refused(tmp_path: Path) -> None:
    rows = _book_rows()
    rows[4], rows[8] = rows[8], rows[4]
    err = _fails(tmp_path, _write(tmp_path / "book.csv", BOOK, rows))
    assert (
        f"book.csv line 7: local_timestamp {T0 + 20} is earlier than the row before ({T0 + 30})"
        in err
    )
    assert "tardis files are sorted by local_timestamp" in err


def test_missing_column_is_named(tmp_path: Path) -> None:
    header = BOOK.replace(",is_snapshot", "")
    rows = [",".join(r.split(",")[:4] + r.split(",")[5:]) for r in _book_rows()]
    err = _fails(tmp_path, _write(tmp_path / "book.csv", header, rows))
    assert "book.csv: tardis header lacks column(s) is_snapshot of incremental_book_L2" in err


def test_two_exchanges_in_one_file_are_refused(tmp_path: Path) -> None:
    rows = [*_book_rows(), f"bybit,BTCUSDT,{T0 + 99},{T0 + 100},false,bid,60000.0,1"]
    err = _fails(tmp_path, _write(tmp_path / "book.csv", BOOK, rows))
    assert "book.csv line 12: exchange 'bybit' after 'binance-futures'" in err


def test_directory_of_mixed_instruments_is_refused_unless_mixed(tmp_path: Path) -> None:
    d = tmp_path / "day"
    d.mkdir()
    _write(d / "btc.csv", BOOK, _book_rows())
    _write(d / "eth.csv", TRADES, [f"binance-futures,ETHUSDT,{T0},{T0 + 1},1,buy,3000.00,0.001"])
    err = _fails(tmp_path, d)
    assert "the files hold 2 instruments: binance-usdm:BTCUSDT (in btc.csv); " in err
    assert "binance-usdm:ETHUSDT (in eth.csv)" in err and "pass --mixed" in err
    lake = tmp_path / "lake"
    proc = run_mm("import", str(d), "--lake", str(lake), "--mixed", "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    rows = json_output(proc)["rows"]
    assert rows["trades binance-usdm:ETHUSDT"]["written"] == 1
    assert rows["book_deltas binance-usdm:BTCUSDT"]["written"] == 9  # 10 rows, one level twice


def test_book_snapshot_25_and_quotes(tmp_path: Path) -> None:
    cols = [
        f"{s}[{i}].{f}" for i in range(25) for s in ("asks", "bids") for f in ("price", "amount")
    ]
    header = "exchange,symbol,timestamp,local_timestamp," + ",".join(cols)

    def snap(t: int, ask: str, bid: str) -> str:
        vals = [ask, "1.5", bid, "2.5"] + [""] * (len(cols) - 4)  # one level a side
        return f"bybit,BTCUSDT,{T0 + t - 1},{T0 + t}," + ",".join(vals)

    quotes = "exchange,symbol,timestamp,local_timestamp,ask_amount,ask_price,bid_price,bid_amount"
    q_rows = [
        f"bybit,BTCUSDT,{T0},{T0 + 2},1.5,60000.20,60000.10,2.5",
        f"bybit,BTCUSDT,{T0},{T0 + 3},,,60000.10,2.5",
    ]
    lake = tmp_path / "lake"
    paths = [
        _write(
            tmp_path / "s.csv",
            header,
            [snap(1, "60000.20", "60000.10"), snap(5, "60000.30", "60000.00")],
        ),
        _write(tmp_path / "q.csv", quotes, q_rows),
    ]
    report = import_files(paths, lake, progress=False)
    assert any("1 one-sided quote row(s) skipped" in n for n in report.notes)
    assert _books(lake, "bybit", "BTCUSDT") == [
        ((T0 + 1) * S, {600001: 2500}, {600002: 1500}),  # tick 0.10 lot 0.001 on bybit
        ((T0 + 5) * S, {600000: 2500}, {600003: 1500}),
    ]
    bbo = lake_table(lake, "bbo", "bybit", "BTCUSDT").to_pylist()
    assert [
        (r["recv_ts"], r["bid_price"], r["bid_qty"], r["ask_price"], r["ask_qty"]) for r in bbo
    ] == [((T0 + 2) * S, 600001, 2500, 600002, 1500)]
    both = [*paths, _write(tmp_path / "b.csv", BOOK, _book_rows(exchange="bybit"))]
    err = _fails(tmp_path, *both)
    assert (
        "incremental_book_L2 for bybit:BTCUSDT, which this import also reads from book_snapshot_25"
        in err
    )
