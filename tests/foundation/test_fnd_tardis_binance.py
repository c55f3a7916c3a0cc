"""Must-show: the bundled Binance capture, converted to tardis.dev CSVs (a public format,
by ``tardis_convert``), imports to the same book, trades and best bid/offer as the
native capture.

Times compare at microseconds (tardis' resolution). The book is compared after every
message: the tardis replay's full book at each receive instant must equal the native
replay's at the same instant (native diffs without level changes have no tardis rows;
the book after them must equal the tardis book before them).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fnd_helpers import BINANCE_SAMPLE, lake_table
from tardis_convert import convert_binance

from core.lake import iter_events
from core.walk import BOOK_KINDS, messages
from operators.book.sync import book_sync_for
from warehouse.importer import import_files
from warehouse.verify import verify_book

VENUE, SYMBOL = "binance-usdm", "BTCUSDT"


@pytest.fixture(scope="module")
def tardis_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("tardis_binance")
    paths = convert_binance(BINANCE_SAMPLE, base / "csv", gz=True)
    lake = base / "lake"
    report = import_files(list(paths.values()), lake, progress=False)
    assert report.format == "tardis" and report.malformed == 0
    return lake


FULL_EVERY = 250  # every 250th tardis message the whole book is compared, else its top


def _books(lake: Path, full_at: set[int] | None = None) -> dict[int, tuple]:
    """The book after the last book message of each receive microsecond: its top 10
    levels a side and level counts; all its levels at the instants ``full_at`` (None:
    every FULL_EVERY-th message and the last)."""
    sync = book_sync_for(VENUE)
    book = sync.book
    out: dict[int, tuple] = {}
    n = 0
    for day in iter_events(lake, VENUE, SYMBOL):
        for m in messages(day):
            if m.kind in BOOK_KINDS:
                sync.on_message(m.kind, m.seq, m.prev_seq, m.first_seq, m.levels)
                if sync.usable:
                    n += 1
                    t = m.recv_ts // 1000
                    top = book.depth(1, 10), book.depth(-1, 10), len(book.bids), len(book.asks)
                    want = n % FULL_EVERY == 0 if full_at is None else t in full_at
                    out[t] = (top, (dict(book.bids), dict(book.asks)) if want else None)
    if full_at is None:
        last = max(out)
        out[last] = (out[last][0], (dict(book.bids), dict(book.asks)))
    return out


def test_book_after_every_message_equals_the_native_book(
    sample_lake: Path, tardis_lake: Path
) -> None:
    tardis = _books(tardis_lake)
    full_at = {t for t, (_, full) in tardis.items() if full is not None}
    native = _books(sample_lake, full_at)
    assert len(tardis) > 6_000 and len(full_at) > 20
    assert set(tardis) <= set(native)  # every tardis message is a native receive instant
    top = None
    for t in sorted(native):
        top = tardis[t][0] if t in tardis else top
        assert top is not None, f"native book at {t} us before any tardis book"
        # a native diff without level changes has no tardis rows: the book is unchanged
        assert native[t][0] == top, f"book tops differ after the message at {t} us"
    for t in full_at:
        assert native[t][1] == tardis[t][1], f"books differ after the message at {t} us"


def test_verify_book_of_the_tardis_import_is_clean(sample_lake: Path, tardis_lake: Path) -> None:
    native = verify_book(sample_lake, VENUE, SYMBOL, progress=False)
    got = verify_book(tardis_lake, VENUE, SYMBOL, progress=False)
    assert native["crossed"] == 0 and got["crossed"] == 0
    assert got["snapshots"] == 1
    assert got["gaps"] == 0 and got["resyncs"] == 0
    assert got["dropped_unsynced"] == 0 and got["dropped_stale"] == 0
    assert got["final_state"] == "SYNCED"
    assert got["final_levels"] == native["final_levels"]
    assert got["trades"] == native["trades"] == 21_313
    # tardis quotes carry no update id: nothing aligns them with the book (none claimed)
    assert got["bbo"]["aligned"] == 0 and got["bbo_messages"] == native["bbo_messages"]


def _rows(lake: Path, table: str, cols: list[str]) -> list[tuple]:
    t = lake_table(lake, table, VENUE, SYMBOL).select(cols).to_pylist()
    return sorted(tuple(r[c] // 1000 if c == "recv_ts" else r[c] for c in cols) for r in t)


def test_trades_are_identical(sample_lake: Path, tardis_lake: Path) -> None:
    cols = ["recv_ts", "exch_ts", "trade_id", "price", "qty", "side"]
    native, got = _rows(sample_lake, "trades", cols), _rows(tardis_lake, "trades", cols)
    assert len(got) == 21_313
    assert got == native


def test_quotes_are_the_native_best_bid_offer(sample_lake: Path, tardis_lake: Path) -> None:
    cols = ["recv_ts", "exch_ts", "bid_price", "bid_qty", "ask_price", "ask_qty"]
    native, got = _rows(sample_lake, "bbo", cols), _rows(tardis_lake, "bbo", cols)
    assert len(got) == 66_089
    assert got == native


def test_timestamps_keep_exchange_and_receive_time(tardis_lake: Path) -> None:
    book = lake_table(tardis_lake, "book_deltas", VENUE, SYMBOL)
    recv, exch = book.column("recv_ts").to_pylist(), book.column("exch_ts").to_pylist()
    # in this capture local time runs ~1.2 s behind the exchange: both clocks are kept
    assert all(r % 1000 == 0 for r in recv)
    assert len({r - e for r, e in zip(recv, exch, strict=True)}) > 100


def test_reimporting_the_tardis_files_writes_nothing(tardis_lake: Path, tmp_path: Path) -> None:
    import shutil

    lake = tmp_path / "lake"
    shutil.copytree(tardis_lake, lake)
    csv = sorted((tardis_lake.parent / "csv").iterdir())
    report = import_files(csv[::-1], lake, progress=False)
    assert report.rows and all(c["written"] == 0 for c in report.rows.values())


def test_backtest_on_the_tardis_import_trades_as_on_the_native(
    sample_lake: Path, tardis_lake: Path, tmp_path: Path
) -> None:
    from cli.cmd_backtest import run_backtest

    native = run_backtest(sample_lake, VENUE, SYMBOL, tmp_path / "native", progress=False)
    got = run_backtest(tardis_lake, VENUE, SYMBOL, tmp_path / "tardis", progress=False)
    # the compiled trader's own book sync accepts the tardis chain: no gap, nothing dropped
    assert got["book"] == {
        "crossed": 0,
        "dropped_stale": 0,
        "dropped_unsynced": 0,
        "gaps": 0,
        "messages": 6_547,
        "resyncs": 0,
        "snapshots": 1,
    }
    assert got["fills"] > 0
    # the same orders, fills, fees and PnL, exactly; only counts of messages that tardis
    # does not carry (diffs before the snapshot, diffs without level changes) and the
    # span (those early diffs; receive times in microseconds) differ
    differ = {"book", "start", "end", "events", "events_per_s", "messages", "wall_time_s"}
    assert {k: v for k, v in got.items() if k not in differ} == {
        k: v for k, v in native.items() if k not in differ
    }
