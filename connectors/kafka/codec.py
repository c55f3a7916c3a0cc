"""Kafka message values: raw capture lines and normalised event messages.

Raw topics (``mm.raw.{venue}``) carry the capture-line format ``<recv ns> <raw json>``
unchanged, so a dump of a topic (one value per line) is a recording ``mm import`` reads.

Event topics (``mm.events.{venue}``) carry one venue message per Kafka message: a
12-byte little-endian header, then the message's ``EVENT_DTYPE`` rows as packed bytes::

    offset  size  field
    0       4     magic    b"MMEV"
    4       1     version  1
    5       1     type     1 = events, 2 = instrument spec (JSON of InstrumentSpec.to_dict)
    6       2     itemsize bytes per row (67 for version 1), 0 for a spec
    8       4     count    rows (events) or payload bytes (spec)

Version 1 rows are the 11 fields of ``core.events.EVENT_DTYPE`` in order, little-endian,
unpadded. A reader refuses any other version instead of guessing at the layout.
"""

from __future__ import annotations

import struct

import numpy as np
import orjson

from connectors.capture import split_capture_line
from core.errors import MalformedLine, MMError
from core.events import EVENT_DTYPE, FIRST, LAST
from core.instruments import InstrumentSpec

MAGIC = b"MMEV"
VERSION = 1
TYPE_EVENTS = 1
TYPE_SPEC = 2
HEADER = struct.Struct("<4sBBHI")
WIRE_DTYPE = EVENT_DTYPE.newbyteorder("<")


# ---- raw capture lines --------------------------------------------------------------


def encode_capture_line(recv_ns: int, raw: str | bytes) -> bytes:
    """``<recv ns> <json>`` on one line (JSON never needs a raw newline, so none is kept)."""
    body = raw.encode() if isinstance(raw, str) else raw
    if b"\n" in body or b"\r" in body:
        body = body.replace(b"\r", b" ").replace(b"\n", b" ")
    return b"%d %s" % (recv_ns, body.strip())


def decode_capture_line(value: bytes | None) -> tuple[int | None, bytes]:
    """Inverse of :func:`encode_capture_line`; a bare JSON line gives ``(None, json)``."""
    if not value:
        raise MalformedLine("empty message")
    return split_capture_line(value.strip())


# ---- normalised events --------------------------------------------------------------


def encode_events(events: np.ndarray) -> bytes:
    """One venue message (rows FIRST..LAST) -> a Kafka value."""
    if events.dtype != EVENT_DTYPE:
        raise TypeError(f"expected EVENT_DTYPE rows, got {events.dtype}")
    n = len(events)
    if n == 0:
        raise ValueError("an event message needs at least one row")
    body = np.ascontiguousarray(events, dtype=WIRE_DTYPE).tobytes()
    return HEADER.pack(MAGIC, VERSION, TYPE_EVENTS, WIRE_DTYPE.itemsize, n) + body


def encode_spec(spec: InstrumentSpec) -> bytes:
    """The instrument's tick/lot sizes, so a topic can be replayed without the lake."""
    body = orjson.dumps(spec.to_dict())
    return HEADER.pack(MAGIC, VERSION, TYPE_SPEC, 0, len(body)) + body


def message_type(value: bytes | None) -> int:
    """TYPE_EVENTS or TYPE_SPEC after checking magic, version and length."""
    if value is None or len(value) < HEADER.size:
        raise MalformedLine(f"value of {0 if value is None else len(value)} bytes has no header")
    magic, version, mtype, itemsize, count = HEADER.unpack_from(value)
    if magic != MAGIC:
        raise MalformedLine(f"bad magic {magic!r} (not an mm event message)")
    if version != VERSION:
        raise MalformedLine(f"event message version {version} is not supported (want {VERSION})")
    if mtype == TYPE_EVENTS:
        if itemsize != WIRE_DTYPE.itemsize:
            raise MalformedLine(f"row size {itemsize} != {WIRE_DTYPE.itemsize}")
        if count == 0 or len(value) != HEADER.size + itemsize * count:
            raise MalformedLine(f"length {len(value)} does not match {count} rows")
    elif mtype == TYPE_SPEC:
        if len(value) != HEADER.size + count:
            raise MalformedLine(f"spec length {len(value)} does not match {count} bytes")
    else:
        raise MalformedLine(f"unknown message type {mtype}")
    return mtype


_FIRST_ROW = struct.Struct("<BbBqq")  # kind, side, flags, exch_ts, recv_ts
_ORD_AT = WIRE_DTYPE.fields["ord"][1]
_FLAGS_AT = WIRE_DTYPE.fields["flags"][1]


def peek_events(value: bytes, checked: bool = False) -> tuple[int, int, int]:
    """(rows, recv_ts, ord) of an event message's first row, checked, without decoding it.

    The replay reads millions of messages: it filters and dedupes on these and joins the
    row bytes of a whole batch into one array (``events_from_bodies``). ``checked``: the
    caller already got TYPE_EVENTS from ``message_type``.
    """
    if not checked and message_type(value) != TYPE_EVENTS:
        raise MalformedLine("not an event message")
    count = HEADER.unpack_from(value)[4]
    size = WIRE_DTYPE.itemsize
    _, _, flags, _, recv = _FIRST_ROW.unpack_from(value, HEADER.size)
    last_flags = value[HEADER.size + (count - 1) * size + _FLAGS_AT]
    if not flags & FIRST or not last_flags & LAST:
        raise MalformedLine("rows do not form one whole message (FIRST..LAST)")
    (ord_,) = struct.unpack_from("<q", value, HEADER.size + _ORD_AT)
    return count, recv, ord_


def events_from_bodies(values: list[bytes]) -> np.ndarray:
    """Checked event messages -> one writable, native ``EVENT_DTYPE`` array, in order."""
    body = b"".join(memoryview(v)[HEADER.size :] for v in values)
    return np.frombuffer(body, dtype=WIRE_DTYPE).astype(EVENT_DTYPE)


def decode_events(value: bytes) -> np.ndarray:
    """A Kafka value -> a writable, native ``EVENT_DTYPE`` array of one venue message."""
    peek_events(value)
    return events_from_bodies([value])


def decode_spec(value: bytes) -> InstrumentSpec:
    if message_type(value) != TYPE_SPEC:
        raise MalformedLine("not an instrument spec message")
    try:
        return InstrumentSpec.from_dict(orjson.loads(value[HEADER.size :]))
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, MMError) as exc:
        raise MalformedLine(f"bad instrument spec: {exc}") from None
