"""How every lake writer encodes Parquet: one definition, chosen by ``bench.storage``.

The import's merge, the lake writer (sinks, run tables, compaction) and ``bench.make_day``
all take their options from here, so a lake is written the same way whoever writes it.
Per column, the encoding that measured smallest on the bundled BTCUSDT sample (see
docs/scale.md, "Storage"):

* ``DELTA_BINARY_PACKED`` for columns that grow row by row: ``ord`` everywhere, the
  receive and exchange times of trades and bbo, bbo update ids, trade prices. Deltas are
  small where the values are not;
* ``BYTE_STREAM_SPLIT`` for sizes and for book prices: the high bytes of a tick count
  barely change, and zstd packs those byte streams to almost nothing;
* dictionary for small enumerations (``kind``, ``side``, ``flags``);
* PLAIN for what a book message repeats on each of its rows (receive time, update ids):
  zstd takes the runs;
* ``DELTA_BYTE_ARRAY`` for trade ids (consecutive ids share their prefix).

Columns not named get pyarrow's default (dictionary, falling back to PLAIN). Every page
carries a CRC, which the lake's readers verify (``page_checksum_verification``). Encodings
change bytes only: values read back bit for bit, in the same Arrow types, by pyarrow and
DuckDB, and files written with the old options (dictionary everywhere, zstd level 3)
read together with new ones.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from core.lake import TABLES

COMPRESSION = "zstd"
COMPRESSION_LEVEL = 3  # 9 is 3% smaller but writes 2-4x slower (import, recorder, compaction)
ROW_GROUP_ROWS = 262_144  # rows per row group: replay and merge memory, time pruning

DICT = "DICTIONARY"
DELTA = "DELTA_BINARY_PACKED"
SPLIT = "BYTE_STREAM_SPLIT"
PLAIN = "PLAIN"
PREFIX = "DELTA_BYTE_ARRAY"

# table -> column -> encoding; a column not listed keeps pyarrow's default (dictionary)
ENCODINGS: dict[str, dict[str, str]] = {
    "book_deltas": {
        "recv_ts": PLAIN,
        "exch_ts": DELTA,
        "ord": DELTA,
        "seq": PLAIN,
        "prev_seq": PLAIN,
        "first_seq": PLAIN,
        "kind": DICT,
        "side": DICT,
        "price": SPLIT,
        "qty": SPLIT,
        "flags": DICT,
    },
    "trades": {
        "recv_ts": DELTA,
        "exch_ts": DELTA,
        "ord": DELTA,
        "trade_id": PREFIX,
        "price": DELTA,
        "qty": SPLIT,
        "side": DICT,
    },
    "bbo": {
        "recv_ts": DELTA,
        "exch_ts": DELTA,
        "ord": DELTA,
        "seq": DELTA,
        "bid_price": PLAIN,
        "bid_qty": SPLIT,
        "ask_price": PLAIN,
        "ask_qty": SPLIT,
    },
    "features": {"recv_ts": DELTA, "exch_ts": DELTA, "ord": DELTA},
    **{t: {"recv_ts": DELTA, "seq": DELTA} for t in ("quotes", "orders", "fills", "pnl")},
}

# what every writer used before: kept to measure against and to write "old" files in tests
LEGACY_OPTIONS: dict[str, Any] = {"compression": "zstd", "compression_level": 3}


def write_options(
    table: str | None,
    schema: pa.Schema,
    encodings: dict[str, dict[str, str]] | None = None,
    compression_level: int = COMPRESSION_LEVEL,
) -> dict[str, Any]:
    """Keyword arguments for ``pq.ParquetWriter`` / ``pq.write_table`` of lake ``table``
    (None: a file that is no lake table, e.g. an instrument spec: defaults).

    Only columns ``schema`` has are named, so a file of an older schema still writes.
    ``encodings`` and ``compression_level`` exist for ``bench.storage``'s candidates.
    """
    by_column = (ENCODINGS if encodings is None else encodings).get(table or "", {})
    names = set(schema.names)
    chosen = {c: e for c, e in by_column.items() if c in names}
    opts: dict[str, Any] = {
        "compression": COMPRESSION,
        "compression_level": compression_level,
        # a CRC per page: a damaged page is an error, not wrong numbers (a zstd block stored
        # raw, e.g. the noisy low bytes of sizes, decodes garbage without complaint)
        "write_page_checksum": True,
    }
    if chosen:
        opts["use_dictionary"] = [c for c in schema.names if chosen.get(c, DICT) == DICT]
        opts["column_encoding"] = {c: e for c, e in chosen.items() if e != DICT}
    tdef = TABLES.get(table or "")
    if tdef is not None and tdef.order and all(c in names for c in tdef.order):
        opts["sorting_columns"] = [pq.SortingColumn(schema.names.index(c)) for c in tdef.order]
    return opts
