"""Hostile numbers in a recording: each is one counted malformed line, the rest is imported.

Regression tests for issue 10 item 5: ``1e400`` or a size of ``1e30`` aborted the whole
import with "unexpected InvalidOperation"; a trade price of ``1e18`` overflowed int64
after book_deltas and bbo were already committed; ``1e15`` was accepted silently.
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from pathlib import Path

import orjson
import pytest
from fnd_helpers import BINANCE_SAMPLE, expected_binance, lake_files, lake_table, raw_lines

from core.errors import InexactValueError, LakeError
from core.instruments import MAX_UNITS, InstrumentSpec, known_instrument
from warehouse.importer import import_file

SPEC = known_instrument("binance-usdm", "BTCUSDT")
PRICE_RANGE = f"is out of range: more than {MAX_UNITS:,} ticks of 0.10"
SIZE_RANGE = f"is out of range: more than {MAX_UNITS:,} lots of 0.001"


def _edit(line: bytes, change) -> bytes:  # type: ignore[no-untyped-def]
    recv, _, body = line.partition(b" ")
    msg = orjson.loads(body)
    change(msg["data"])
    return recv + b" " + orjson.dumps(msg)


def _set(key: str, value: object):  # type: ignore[no-untyped-def]
    def change(d: dict) -> None:
        d[key] = value

    return change


def _set_level(side: str, i: int, j: int, value: str):  # type: ignore[no-untyped-def]
    def change(d: dict) -> None:
        d[side][i][j] = value

    return change


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[bytes], dict[int, str]]:
    """The first 200 Binance lines with nine hostile numbers; (file, good lines, reasons)."""
    lines = raw_lines(BINANCE_SAMPLE)[:200]
    kinds = {
        i: orjson.loads(ln.partition(b" ")[2]).get("data", {}).get("e")
        for i, ln in enumerate(lines)
    }
    assert [kinds[i] for i in (11, 13, 19, 21, 22, 37, 39, 40, 41)] == [
        "depthUpdate",
        "bookTicker",
        "depthUpdate",
        "bookTicker",
        "trade",
        "depthUpdate",
        "trade",
        "bookTicker",
        "depthUpdate",
    ]
    bad = list(lines)
    reasons: dict[int, str] = {}
    edits = {
        11: (_set_level("b", 0, 0, "1e400"), f"price 1e400 for binance-usdm:BTCUSDT {PRICE_RANGE}"),
        13: (_set("B", "1e30"), f"size 1e30 for binance-usdm:BTCUSDT {SIZE_RANGE}"),
        19: (_set_level("a", 0, 1, "1e400"), f"size 1e400 for binance-usdm:BTCUSDT {SIZE_RANGE}"),
        21: (_set("u", 2**63), "field 'u' (9223372036854775808) is out of the int64 range"),
        22: (_set("p", "1e15"), f"price 1e15 for binance-usdm:BTCUSDT {PRICE_RANGE}"),
        37: (_set_level("b", 1, 1, "1e30"), f"size 1e30 for binance-usdm:BTCUSDT {SIZE_RANGE}"),
        # a trade price that overflowed int64 only when the trades table was written
        39: (_set("p", "1e18"), f"price 1e18 for binance-usdm:BTCUSDT {PRICE_RANGE}"),
        40: (
            _set("T", 10**17),
            "field 'T' (100000000000000000) is out of the millisecond time range",
        ),
    }
    for i, (change, reason) in edits.items():
        bad[i] = _edit(lines[i], change)
        reasons[i + 1] = reason
    bad[41] = b"99999999999999999999" + lines[41][19:]  # receive time beyond int64
    reasons[42] = "receive timestamp 99999999999999999999 is out of range"
    path = tmp_path_factory.mktemp("hostile") / "hostile.txt"
    path.write_bytes(b"\n".join(bad) + b"\n")
    good = [ln for i, ln in enumerate(lines) if i + 1 not in reasons]
    return path, good, reasons


def test_each_hostile_number_is_one_malformed_line(
    hostile: tuple[Path, list[bytes], dict[int, str]], tmp_path: Path
) -> None:
    path, good, reasons = hostile
    lake = tmp_path / "lake"
    report = import_file(path, lake, progress=False)
    assert (report.lines, report.malformed, report.messages) == (200, 9, 191)
    assert report.malformed_lines == sorted(reasons.items())
    # everything else is in the lake, exactly (independent json + Decimal reading)
    exp = expected_binance(good)
    book = lake_table(lake, "book_deltas", "binance-usdm", "BTCUSDT")
    cols = ("recv_ts", "kind", "side", "price", "qty")
    assert Counter(zip(*(book.column(c).to_pylist() for c in cols), strict=True)) == Counter(
        exp.book
    )
    trades = lake_table(lake, "trades", "binance-usdm", "BTCUSDT")
    tcols = ("trade_id", "price", "qty", "side")
    got = zip(*(trades.column(c).to_pylist() for c in tcols), strict=True)
    assert sorted(got) == sorted(exp.trades)
    bbo = lake_table(lake, "bbo", "binance-usdm", "BTCUSDT")
    cols = ("seq", "bid_price", "bid_qty", "ask_price", "ask_qty")
    assert Counter(zip(*(bbo.column(c).to_pylist() for c in cols), strict=True)) == Counter(exp.bbo)
    assert report.rows["trades binance-usdm:BTCUSDT"]["written"] == len(exp.trades)


def test_nothing_is_committed_unless_every_table_can_be_written(
    hostile: tuple[Path, list[bytes], dict[int, str]], tmp_path: Path
) -> None:
    """A trades partition that cannot be created: book_deltas and bbo stay out too."""
    _, good, _ = hostile
    path = tmp_path / "good.txt"
    path.write_bytes(b"\n".join(good) + b"\n")
    lake = tmp_path / "lake"
    blocker = lake / "trades" / "venue=binance-usdm" / "symbol=BTCUSDT"
    blocker.parent.mkdir(parents=True)
    blocker.write_text("not a directory")
    with pytest.raises(LakeError, match="cannot create lake partition"):
        import_file(path, lake, progress=False)
    assert lake_files(lake) == [blocker]  # no data file, no instrument spec, no staging
    assert sorted(p.name for p in lake.iterdir()) == ["trades"]


def test_conversion_bound_is_exact_at_the_edge() -> None:
    spec = InstrumentSpec("binance-usdm", "BTCUSDT", Decimal("0.10"), Decimal("0.001"))
    top = Decimal("0.10") * MAX_UNITS
    assert spec.price_to_ticks(str(top)) == MAX_UNITS
    assert spec.price_to_ticks(top) == MAX_UNITS
    assert MAX_UNITS * MAX_UNITS <= 2**63 - 1  # any ticks x lots fits an int64
    with pytest.raises(InexactValueError, match="out of range"):
        spec.price_to_ticks(str(top + Decimal("0.10")))
    with pytest.raises(InexactValueError, match="out of range"):
        spec.size_to_lots("1e400")
    # a remainder too small for the decimal exponent range is inexact, not a silent 0
    with pytest.raises(InexactValueError, match="cannot be converted exactly"):
        spec.price_to_ticks("1e-999999999")


def test_cached_string_never_answers_for_a_float_or_bool() -> None:
    """1 == 1.0 == True as dict keys: a cached int price must not make 1.0 or True exact."""
    spec = InstrumentSpec("bybit", "XRPUSDT", Decimal("0.0001"), Decimal("1"))
    parse = spec.size_parser
    assert parse(1) == 1
    assert parse("1") == 1
    with pytest.raises(InexactValueError, match="is a float"):
        parse(1.0)  # type: ignore[arg-type]
    with pytest.raises(InexactValueError, match="not a number"):
        parse(True)  # type: ignore[arg-type]
