"""Smaller foundation pieces: exact fees, time parsing, the message walker, and the live
event path (codec rows -> rows_to_events) agreeing with the replay path (lake -> events)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import numpy as np
import orjson
import pytest
from fnd_helpers import BINANCE_SAMPLE, raw_lines

from connectors.binance.loader import BinanceFuturesLoader
from connectors.rows import rows_to_events
from core.errors import ConfigError, MMError
from core.events import EVENT_DTYPE, FIRST, LAST, Kind, message_bounds
from core.instruments import known_instrument
from core.lake import read_events_day
from core.money import fee_units, fee_units_to_quote, rate_to_e8, units_to_quote
from core.timeutil import ns_to_date, parse_time
from core.walk import messages
from warehouse.importer import import_file


def test_fee_arithmetic_is_exact() -> None:
    assert rate_to_e8("-0.00015") == -15_000 and rate_to_e8(0.00045) == 45_000
    with pytest.raises(ConfigError, match="more than 8 decimal places"):
        rate_to_e8("0.000000001")
    # 61800.2 x 2.909 BTC = 179776.7818 USDT; a 1.5 bp rebate = -26.96651727 USDT exactly
    fee = fee_units(618_002, 2_909, -15_000)
    assert fee == 618_002 * 2_909 * -15_000 == -26_966_517_270_000
    assert fee_units_to_quote(fee, Decimal("0.1"), Decimal("0.001")) == Decimal("-26.96651727")
    assert units_to_quote(618_002 * 2_909, Decimal("0.1"), Decimal("0.001")) == Decimal(
        "179776.7818"
    )
    assert units_to_quote(Fraction(3, 2), Decimal("0.1"), Decimal("0.001")) == Decimal("0.00015")


def test_parse_time() -> None:
    t = 1_723_161_300_000_000_000  # 2024-08-08 23:55:00 UTC
    assert parse_time("2024-08-08T23:55:00Z") == t
    assert parse_time("2024-08-08T23:55:00") == t  # no zone: UTC
    assert parse_time("2024-08-09T01:55:00+02:00") == t
    assert parse_time("1723161300") == parse_time("1723161300000") == parse_time(str(t)) == t
    assert parse_time("2024-08-08T23:55:00.123456Z") == t + 123_456_000
    assert parse_time("2024-08-08") == t - (23 * 3600 + 55 * 60) * 10**9
    assert parse_time(None) is None and parse_time("") is None and parse_time(5) == 5
    assert ns_to_date(t) == date(2024, 8, 8)
    with pytest.raises(MMError, match="cannot parse time 'yesterday'"):
        parse_time("yesterday")


def _ev(kind: int, flags: int, price: int) -> tuple:
    return (kind, 1, flags, 0, 0, price, 1, -1, -1, -1, price)


def test_walker_groups_rows_by_message() -> None:
    ev = np.array(
        [
            _ev(Kind.BOOK_SNAPSHOT, FIRST, 1),
            _ev(Kind.BOOK_SNAPSHOT, 0, 2),
            _ev(Kind.BOOK_SNAPSHOT, LAST, 3),
            _ev(Kind.TRADE, FIRST | LAST, 4),
            _ev(Kind.BOOK_DELTA, FIRST, 5),
            _ev(Kind.BOOK_DELTA, LAST, 6),
        ],
        dtype=EVENT_DTYPE,
    )
    got = [(m.kind, m.start, m.end, m.ord, [p for _, p, _ in m.levels]) for m in messages(ev)]
    assert got == [
        (Kind.BOOK_SNAPSHOT, 0, 3, 3, [1, 2, 3]),
        (Kind.TRADE, 3, 4, 4, [4]),
        (Kind.BOOK_DELTA, 4, 6, 6, [5, 6]),
    ]
    assert message_bounds(ev).tolist() == [3, 4, 6]
    assert list(messages(ev[:0])) == []
    # a batch cut inside a message (never produced by the source) ends at the batch end
    assert [(m.start, m.end) for m in messages(ev[:2])] == [(0, 2)]


def test_live_rows_equal_replayed_events(tmp_path: Path) -> None:
    """The first 120 lines (diffs, the REST snapshot, trades, bbos) decoded by the live path
    give exactly the events the lake replays after an import."""
    lines = raw_lines(BINANCE_SAMPLE)[:120]
    src = tmp_path / "head.txt"
    src.write_bytes(b"\n".join(lines) + b"\n")
    import_file(src, tmp_path / "lake", progress=False)
    replayed = read_events_day(tmp_path / "lake", "binance-usdm", "BTCUSDT", date(2024, 8, 8))

    spec = known_instrument("binance-usdm", "BTCUSDT")
    loader = BinanceFuturesLoader(lambda v, s: spec)  # type: ignore[arg-type, return-value]
    live = []
    for n, line in enumerate(lines, start=1):
        recv, _, payload = line.partition(b" ")
        for p in loader.parse(n, int(recv), orjson.loads(payload)) or []:
            live.append(rows_to_events(p.book, p.trades, p.bbo))
    live_events = np.concatenate(live)
    assert len(live_events) == len(replayed) > 2_000
    assert np.array_equal(live_events, replayed)
