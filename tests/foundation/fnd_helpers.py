"""Helpers for the foundation tests: raw-sample readers, lake readers, a CLI runner.

Expected values are derived here from the raw recordings with the plain ``json`` module
and ``Decimal`` only, never with the project's codecs, so the tests check the importers
against an independent reading of the same bytes.
"""

from __future__ import annotations

import functools
import gzip
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds

REPO = Path(__file__).resolve().parents[2]
SAMPLE_DIR = REPO / "data" / "sample"
BINANCE_SAMPLE = SAMPLE_DIR / "binance-usdm_btcusdt_20240808.gz"
BYBIT_SAMPLE = SAMPLE_DIR / "bybit_xrpusdt_ob500_2024-12-01.data.gz"
HYPERLIQUID_SAMPLE = SAMPLE_DIR / "hyperliquid_btc_20250126.gz"


def raw_lines(path: Path) -> list[bytes]:
    """Non-empty lines of a gzip recording."""
    with gzip.open(path, "rb") as fh:
        return [line.rstrip(b"\r\n") for line in fh if line.strip()]


def split_line(line: bytes) -> tuple[int | None, dict | list]:
    """``<ns> <json>`` or bare ``<json>`` -> (recv ns or None, decoded JSON)."""
    head, sep, rest = line.partition(b" ")
    if sep and head.isdigit():
        return int(head), json.loads(rest)
    return None, json.loads(line)


@functools.lru_cache(maxsize=1 << 20)  # recordings repeat the same strings a lot
def exact_units(value: str, step: str) -> int:
    """Decimal string -> integer multiple of ``step``; fails the test if not exact."""
    q, r = divmod(Decimal(value), Decimal(step))
    assert r == 0, f"{value} is not a multiple of {step}"
    return int(q)


@dataclass
class Expected:
    """Rows a recording should produce, computed independently of the importers."""

    book: list[tuple[int, int, int, int, int]] = field(
        default_factory=list
    )  # recv, kind, side, px, qty
    trades: list[tuple[str, int, int, int]] = field(default_factory=list)  # id, px, qty, side
    bbo: list[tuple[int, int, int, int, int]] = field(default_factory=list)  # seq, bp, bq, ap, aq
    book_messages: int = 0


def _book_levels(
    bids: list, asks: list, tick: str, lot: str, key: tuple[str, str] | None = None
) -> list[tuple[int, int, int]]:
    out = []
    for side, levels in ((1, bids), (-1, asks)):
        for lv in levels:
            px, sz = (lv[key[0]], lv[key[1]]) if key else (lv[0], lv[1])
            out.append((side, exact_units(px, tick), exact_units(sz, lot)))
    return out or [(0, 0, 0)]  # an empty book message keeps one sentinel row


def expected_binance(lines: list[bytes], tick: str = "0.10", lot: str = "0.001") -> Expected:
    exp = Expected()
    for line in lines:
        recv, msg = split_line(line)
        assert isinstance(msg, dict) and recv is not None
        if "lastUpdateId" in msg:
            levels, kind = _book_levels(msg["bids"], msg["asks"], tick, lot), 1
        else:
            d = msg["data"]
            if d["e"] == "trade":
                side = -1 if d["m"] else 1
                exp.trades.append(
                    (str(d["t"]), exact_units(d["p"], tick), exact_units(d["q"], lot), side)
                )
                continue
            if d["e"] == "bookTicker":
                exp.bbo.append(
                    (
                        d["u"],
                        exact_units(d["b"], tick),
                        exact_units(d["B"], lot),
                        exact_units(d["a"], tick),
                        exact_units(d["A"], lot),
                    )
                )
                continue
            assert d["e"] == "depthUpdate"
            levels, kind = _book_levels(d["b"], d["a"], tick, lot), 2
        exp.book_messages += 1
        exp.book.extend((recv, kind, s, p, q) for s, p, q in levels)
    return exp


def expected_bybit(lines: list[bytes], tick: str = "0.0001", lot: str = "1") -> Expected:
    exp = Expected()
    for line in lines:
        _, msg = split_line(line)
        assert isinstance(msg, dict)
        kind = 1 if msg["type"] == "snapshot" else 2
        recv = msg["ts"] * 1_000_000  # no receive time in a Bybit download: ts stands in
        levels = _book_levels(msg["data"].get("b", []), msg["data"].get("a", []), tick, lot)
        exp.book_messages += 1
        exp.book.extend((recv, kind, s, p, q) for s, p, q in levels)
    return exp


def expected_hyperliquid(lines: list[bytes], tick: str = "0.1", lot: str = "0.00001") -> Expected:
    exp = Expected()
    for line in lines:
        recv, msg = split_line(line)
        assert isinstance(msg, dict) and recv is not None
        if msg["channel"] == "l2Book":
            bids, asks = msg["data"]["levels"]
            levels = _book_levels(bids, asks, tick, lot, key=("px", "sz"))
            exp.book_messages += 1
            exp.book.extend((recv, 1, s, p, q) for s, p, q in levels)
        else:
            assert msg["channel"] == "trades"
            for t in msg["data"]:
                side = 1 if t["side"] == "B" else -1
                exp.trades.append(
                    (str(t["tid"]), exact_units(t["px"], tick), exact_units(t["sz"], lot), side)
                )
    return exp


def lake_table(lake: Path, table: str, venue: str, symbol: str) -> pa.Table:
    """All rows of one instrument's table, read through pyarrow's hive partitioning."""
    base = lake / table
    if not base.is_dir():
        return pa.table({})
    dataset = ds.dataset(base, format="parquet", partitioning="hive")
    expr = (ds.field("venue") == venue) & (ds.field("symbol") == symbol)
    return dataset.to_table(filter=expr)


def lake_files(lake: Path) -> list[Path]:
    """Every file under the lake (data, specs, and anything stray)."""
    return sorted(p for p in lake.rglob("*") if p.is_file())


def clean_env(**extra: str) -> dict[str, str]:
    """The test process's (already isolated) environment plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MM_") or k == "MM_HOME"}
    env["MM_PROGRESS"] = "0"
    env.update(extra)
    return env


def run_mm(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """The real ``mm`` CLI in a subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        cwd=cwd,
        env=env or clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )


def json_output(proc: subprocess.CompletedProcess) -> Any:
    return json.loads(proc.stdout)


def iter_batches(part: Any) -> Iterator[Any]:
    """Drain a Bytewax source partition the way the runtime does."""
    while True:
        try:
            yield from part.next_batch()
        except StopIteration:
            return
