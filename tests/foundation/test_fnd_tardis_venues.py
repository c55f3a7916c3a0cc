"""The bundled Bybit and Hyperliquid recordings, converted to tardis.dev CSVs, import to
the same book after every message (and the same trades) as the native files: Bybit's
``u + 1`` rule and Hyperliquid's whole-book rule both accept what the tardis import
writes."""

from __future__ import annotations

from pathlib import Path

from fnd_helpers import BYBIT_SAMPLE, HYPERLIQUID_SAMPLE, lake_table
from tardis_convert import convert_bybit, convert_hyperliquid

from core.lake import iter_events
from core.walk import BOOK_KINDS, messages
from operators.book.sync import book_sync_for
from warehouse.importer import import_files
from warehouse.verify import verify_book


def _books(lake: Path, venue: str, symbol: str) -> dict[int, tuple[dict, dict]]:
    """The whole book after the last book message of each receive microsecond."""
    sync = book_sync_for(venue)
    out = {}
    for day in iter_events(lake, venue, symbol):
        for m in messages(day):
            if m.kind in BOOK_KINDS:
                sync.on_message(m.kind, m.seq, m.prev_seq, m.first_seq, m.levels)
                if sync.usable:
                    out[m.recv_ts // 1000] = dict(sync.book.bids), dict(sync.book.asks)
    return out


def _same_books(native: dict, tardis: dict) -> None:
    assert set(tardis) <= set(native)
    current = None
    for t in sorted(native):
        current = tardis.get(t, current)
        assert native[t] == current, f"books differ after the message at {t} us"


def test_bybit_download_as_tardis(sample_lake: Path, tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    import_files([convert_bybit(BYBIT_SAMPLE, tmp_path / "csv")], lake, progress=False)
    native, got = _books(sample_lake, "bybit", "XRPUSDT"), _books(lake, "bybit", "XRPUSDT")
    assert len(got) == 50
    _same_books(native, got)
    v = verify_book(lake, "bybit", "XRPUSDT", progress=False)
    assert (v["snapshots"], v["gaps"], v["crossed"], v["final_state"]) == (1, 0, 0, "SYNCED")


def test_hyperliquid_capture_as_tardis(sample_lake: Path, tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    paths = convert_hyperliquid(HYPERLIQUID_SAMPLE, tmp_path / "csv")
    import_files(list(paths), lake, progress=False)
    native, got = _books(sample_lake, "hyperliquid", "BTC"), _books(lake, "hyperliquid", "BTC")
    assert len(got) > 30
    _same_books(native, got)
    cols = ["recv_ts", "exch_ts", "trade_id", "price", "qty", "side"]

    def trades(lk: Path) -> list[tuple]:
        rows = lake_table(lk, "trades", "hyperliquid", "BTC").select(cols).to_pylist()
        return sorted((r["recv_ts"] // 1000, *(r[c] for c in cols[1:])) for r in rows)

    assert len(trades(lake)) > 0 and trades(lake) == trades(sample_lake)
