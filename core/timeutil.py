"""Integer-nanosecond time helpers."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from core.errors import MMError

NS_PER_S = 1_000_000_000
NS_PER_MS = 1_000_000
NS_PER_DAY = 86_400 * NS_PER_S
EPOCH = date(1970, 1, 1)


def parse_time(text: str | int | None) -> int | None:
    """ISO-8601 (UTC if no zone), a date, or integer ns/ms/s since epoch -> ns."""
    if text is None or text == "":
        return None
    if isinstance(text, int):
        return text
    s = str(text).strip()
    if s.lstrip("-").isdigit():
        v = int(s)
        digits = len(s.lstrip("-"))
        if digits <= 11:
            return v * NS_PER_S
        if digits <= 14:
            return v * NS_PER_MS
        return v
    try:
        dt = datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        raise MMError(
            f"cannot parse time {text!r}",
            "use ISO-8601 like 2024-08-08T23:55:00Z or ns since epoch",
        ) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp()) * NS_PER_S + dt.microsecond * 1000


def ns_to_date(ns: int) -> date:
    return EPOCH + timedelta(days=ns // NS_PER_DAY)


def date_to_ns(d: date) -> int:
    return (d - EPOCH).days * NS_PER_DAY


def ns_to_iso(ns: int) -> str:
    return datetime.fromtimestamp(ns / NS_PER_S, tz=UTC).isoformat(timespec="milliseconds")
