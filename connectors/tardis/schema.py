"""The tardis.dev CSV data types mm reads and the columns each must have.

A file's type is told by its header; columns are found by name (tardis may add columns),
and a header that resembles a type but lacks columns is named with what is missing.
"""

from __future__ import annotations

from core.errors import DataFormatError

COMMON = ("exchange", "symbol", "timestamp", "local_timestamp")
KINDS: dict[str, tuple[str, ...]] = {
    "incremental_book_L2": (*COMMON, "is_snapshot", "side", "price", "amount"),
    "trades": (*COMMON, "id", "side", "price", "amount"),
    "quotes": (*COMMON, "ask_amount", "ask_price", "bid_price", "bid_amount"),
    "book_snapshot_25": (
        *COMMON,
        *(
            f"{s}[{i}].{f}"
            for i in range(25)
            for s in ("asks", "bids")
            for f in ("price", "amount")
        ),
    ),
}
# columns that tell the types apart (the common ones do not)
_MARKERS = {
    "incremental_book_L2": {"is_snapshot"},
    "trades": {"id"},
    "quotes": {"ask_price", "bid_price"},
    "book_snapshot_25": {"asks[0].price", "bids[0].price"},
}


def looks_like_tardis(header: list[str]) -> bool:
    return len(header) >= 2 and header[0] == "exchange" and header[1] == "symbol"


def detect_kind(header: list[str], where: str) -> tuple[str, dict[str, int]]:
    """(data type, column -> index) of a tardis header; DataFormatError if unreadable."""
    have = set(header)
    for kind, cols in KINDS.items():
        if have.issuperset(cols):
            return kind, {c: header.index(c) for c in cols}
    # the closest type: most of its distinguishing columns, then most columns
    kind = max(KINDS, key=lambda k: (len(_MARKERS[k] & have), len(have.intersection(KINDS[k]))))
    missing = [c for c in KINDS[kind] if c not in have]
    shown = ", ".join(missing[:6]) + (" ..." if len(missing) > 6 else "")
    raise DataFormatError(
        f"{where}: tardis header lacks column(s) {shown} of {kind}",
        f"a {kind} file has columns {','.join(KINDS[kind][:8])}{',...' if len(KINDS[kind]) > 8 else ''}",
    )
