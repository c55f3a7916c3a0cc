"""Kafka message codecs: the event wire format byte for byte, capture lines, bad input."""

from __future__ import annotations

import struct
from decimal import Decimal

import numpy as np
import pytest

from connectors.kafka.codec import (
    HEADER,
    TYPE_EVENTS,
    TYPE_SPEC,
    decode_capture_line,
    decode_events,
    decode_spec,
    encode_capture_line,
    encode_events,
    encode_spec,
    message_type,
)
from connectors.kafka.raw import message_number
from core.errors import MalformedLine
from core.events import EVENT_DTYPE, FIRST, LAST, Kind
from core.instruments import InstrumentSpec


def _bbo_message() -> np.ndarray:
    ev = np.zeros(2, dtype=EVENT_DTYPE)
    # kind, side, flags, exch_ts, recv_ts, price, qty, seq, prev_seq, first_seq, ord
    ev[0] = (
        Kind.BBO,
        1,
        FIRST,
        1_723_161_256_299_000_000,
        1_723_161_255_088_169_167,
        618_002,
        2_507,
        5_123_107_839_020,
        -1,
        -1,
        7 << 20,
    )
    ev[1] = (
        Kind.BBO,
        -1,
        LAST,
        1_723_161_256_299_000_000,
        1_723_161_255_088_169_167,
        618_003,
        1_131,
        5_123_107_839_020,
        -1,
        -1,
        (7 << 20) + 1,
    )
    return ev


def test_event_message_layout_is_exact() -> None:
    ev = _bbo_message()
    value = encode_events(ev)
    # 12-byte header + 2 rows of 67 bytes (3 one-byte fields + 8 int64s)
    assert EVENT_DTYPE.itemsize == 67
    assert len(value) == 12 + 2 * 67 == 146
    assert value[:12] == b"MMEV" + bytes([1, 1]) + (67).to_bytes(2, "little") + (2).to_bytes(
        4, "little"
    )
    row0 = value[12 : 12 + 67]
    assert row0[0] == Kind.BBO and row0[1] == 0x01 and row0[2] == FIRST
    assert row0[3:11] == (1_723_161_256_299_000_000).to_bytes(8, "little")  # exch_ts
    assert row0[19:27] == (618_002).to_bytes(8, "little")  # price, after exch_ts and recv_ts
    row1 = value[12 + 67 :]
    assert row1[1] == 0xFF  # side -1 as int8
    assert row1[-8:] == ((7 << 20) + 1).to_bytes(8, "little")  # ord, the last field
    back = decode_events(value)
    assert back.dtype == EVENT_DTYPE and back.flags.writeable
    assert np.array_equal(back, ev)
    assert message_type(value) == TYPE_EVENTS


def test_spec_message_round_trips() -> None:
    spec = InstrumentSpec("bybit", "XRPUSDT", Decimal("0.0001"), Decimal("1"), Decimal("5"))
    value = encode_spec(spec)
    assert message_type(value) == TYPE_SPEC
    assert decode_spec(value) == spec
    with pytest.raises(MalformedLine, match="not an event message"):
        decode_events(value)


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda v: b"XXEV" + v[4:], "bad magic"),
        (lambda v: v[:4] + bytes([2]) + v[5:], "version 2 is not supported"),
        (lambda v: v[:-1], "does not match 2 rows"),
        (lambda v: v[:6] + (66).to_bytes(2, "little") + v[8:], "row size 66"),
        (lambda v: v[:5] + bytes([9]) + v[6:], "unknown message type 9"),
        (lambda v: v[:12], "length 12 does not match 2 rows"),
        (lambda v: v[:5], "has no header"),
    ],
)
def test_corrupt_event_messages_are_malformed(mutate, reason: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(MalformedLine, match=reason):
        decode_events(mutate(encode_events(_bbo_message())))


def test_rows_that_are_not_one_whole_message_are_refused() -> None:
    ev = _bbo_message()[:1]  # the bid half of a bbo: FIRST without LAST
    with pytest.raises(MalformedLine, match=r"FIRST\.\.LAST"):
        decode_events(encode_events(ev))
    with pytest.raises(MalformedLine, match="has no header"):
        message_type(None)
    with pytest.raises(ValueError, match="at least one row"):
        encode_events(np.zeros(0, dtype=EVENT_DTYPE))


def test_wire_header_struct_is_little_endian_and_12_bytes() -> None:
    assert HEADER.size == 12
    assert HEADER.pack(b"MMEV", 1, 1, 67, 3) == struct.pack("<4sBBHI", b"MMEV", 1, 1, 67, 3)


def test_capture_lines() -> None:
    assert encode_capture_line(123, '{"a":\n1}\n') == b'123 {"a": 1}'
    assert decode_capture_line(b'123 {"a": 1}') == (123, b'{"a": 1}')
    assert decode_capture_line(b'{"topic": "x"}') == (None, b'{"topic": "x"}')
    with pytest.raises(MalformedLine, match="receive timestamp"):
        decode_capture_line(b'12x {"a": 1}')
    with pytest.raises(MalformedLine, match="empty"):
        decode_capture_line(b"")


def test_message_number_packs_partition_and_offset() -> None:
    assert message_number(0, 41) == 41
    assert message_number(3, 5) == (3 << 32) | 5 == 12_884_901_893
    assert (message_number(2047, (1 << 32) - 1) << 20) < 2**63  # the largest ord fits int64
    with pytest.raises(MalformedLine, match="out of the ord range"):
        message_number(2048, 0)
