"""Re-importing writes nothing new: the lake writer is idempotent on each table's key."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

from fnd_helpers import (
    BINANCE_SAMPLE,
    BYBIT_SAMPLE,
    HYPERLIQUID_SAMPLE,
    expected_hyperliquid,
    lake_files,
    lake_table,
)

from warehouse.importer import import_file


def fingerprint(lake: Path) -> dict[str, str]:
    return {
        str(p.relative_to(lake)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in lake_files(lake)
    }


def test_reimport_of_every_sample_writes_zero_rows(lake_copy: Path) -> None:
    before = fingerprint(lake_copy)
    expected_parsed = {
        BINANCE_SAMPLE: {
            "book_deltas binance-usdm:BTCUSDT": 445_521,
            "trades binance-usdm:BTCUSDT": 21_313,
            "bbo binance-usdm:BTCUSDT": 66_089,
        },
        BYBIT_SAMPLE: {"book_deltas bybit:XRPUSDT": 3_966},
        HYPERLIQUID_SAMPLE: {"book_deltas hyperliquid:BTC": 1_840, "trades hyperliquid:BTC": 64},
    }
    for sample, parsed in expected_parsed.items():
        report = import_file(sample, lake_copy, progress=False)
        assert report.malformed == 0
        assert report.rows == {
            name: {"parsed": n, "written": 0, "duplicates": n} for name, n in parsed.items()
        }
    # not a single file added, removed or changed
    assert fingerprint(lake_copy) == before


def test_overlapping_import_writes_only_the_new_rows(tmp_path: Path) -> None:
    """First half of a recording, then all of it: the second import adds exactly the rest."""
    with gzip.open(HYPERLIQUID_SAMPLE, "rb") as fh:
        lines = [ln.rstrip(b"\n") for ln in fh if ln.strip()]
    head = tmp_path / "head.txt"
    head.write_bytes(b"\n".join(lines[:30]) + b"\n")
    full_exp = expected_hyperliquid(lines)
    head_exp = expected_hyperliquid(lines[:30])
    lake = tmp_path / "lake"

    first = import_file(head, lake, progress=False)
    assert first.rows["book_deltas hyperliquid:BTC"]["written"] == len(head_exp.book)
    second = import_file(HYPERLIQUID_SAMPLE, lake, progress=False)
    assert second.rows["book_deltas hyperliquid:BTC"] == {
        "parsed": 1_840,
        "written": 1_840 - len(head_exp.book),
        "duplicates": len(head_exp.book),
    }
    assert second.rows["trades hyperliquid:BTC"] == {
        "parsed": 64,
        "written": 64 - len(head_exp.trades),
        "duplicates": len(head_exp.trades),
    }
    # the lake now holds exactly the full recording once
    book = lake_table(lake, "book_deltas", "hyperliquid", "BTC")
    assert book.num_rows == len(full_exp.book) == 1_840
    trades = lake_table(lake, "trades", "hyperliquid", "BTC")
    assert sorted(trades.column("trade_id").to_pylist()) == sorted(t[0] for t in full_exp.trades)
    # and a third import changes nothing
    before = fingerprint(lake)
    third = import_file(HYPERLIQUID_SAMPLE, lake, progress=False)
    assert all(c["written"] == 0 for c in third.rows.values())
    assert fingerprint(lake) == before
