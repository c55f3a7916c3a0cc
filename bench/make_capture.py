"""A long Binance capture made of time-shifted copies of the bundled sample (for import benches).

    .venv/bin/python -m bench.make_capture OUT.gz --hours 6

Copy ``k`` of the ~6 minute sample is shifted by ``k`` sample spans: receive times, exchange
times (``E``/``T``), update ids (``U``/``u``/``pu``/``lastUpdateId``) and trade ids (``t``/``a``),
so every copy's rows have new natural keys and the import dedupes nothing. Prices and sizes
are the sample's own. Only what an import needs: ``bench/make_day.py`` builds day-scale
captures whose book chain is continuous for replay.
"""

from __future__ import annotations

import argparse
import gzip
import re
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "data" / "sample" / "binance-usdm_btcusdt_20240808.gz"
NS_PER_MS = 1_000_000

# integer JSON fields that must move with each copy: times (ms) and ids
_FIELD = re.compile(rb'"(E|T|U|u|pu|lastUpdateId|t|a)":(\d+)')
_TIME, _UPDATE, _TRADE = 0, 1, 2
_KIND = {b"E": _TIME, b"T": _TIME, b"U": _UPDATE, b"u": _UPDATE, b"pu": _UPDATE}
_KIND |= {b"lastUpdateId": _UPDATE, b"t": _TRADE, b"a": _TRADE}


def _templates(lines: list[bytes]) -> list[tuple[int, list[bytes], list[tuple[int, int]]]]:
    """Each line as (recv ns, literal pieces, [(kind, value)]) to re-join with offsets."""
    out = []
    for line in lines:
        recv, _, body = line.partition(b" ")
        pieces, fields, pos = [], [], 0
        for m in _FIELD.finditer(body):
            pieces.append(body[pos : m.start(2)])
            fields.append((_KIND[m.group(1)], int(m.group(2))))
            pos = m.end(2)
        pieces.append(body[pos:])
        out.append((int(recv), pieces, fields))
    return out


def _spans(templates: list[tuple[int, list[bytes], list[tuple[int, int]]]]) -> list[int]:
    """Per kind (time ms, update id, trade id): how far one copy moves."""
    lo = [None, None, None]
    hi = [None, None, None]
    for _, _, fields in templates:
        for kind, v in fields:
            lo[kind] = v if lo[kind] is None else min(lo[kind], v)
            hi[kind] = v if hi[kind] is None else max(hi[kind], v)
    return [(h - low + 1) if h is not None else 0 for low, h in zip(lo, hi, strict=True)]


def write_capture(out: Path, hours: float, sample: Path = SAMPLE, level: int = 1) -> dict:
    """Write ``hours`` of shifted sample copies to ``out`` (gzip); returns what was written."""
    with gzip.open(sample, "rb") as fh:
        lines = [ln.rstrip(b"\r\n") for ln in fh if ln.strip()]
    tpl = _templates(lines)
    span_ns = tpl[-1][0] - tpl[0][0] + NS_PER_MS  # copies follow each other without overlap
    time_span_ms, update_span, trade_span = _spans(tpl)
    time_span_ms = max(time_span_ms, span_ns // NS_PER_MS + 1)
    copies = max(1, round(hours * 3600e9 / span_ns))
    n = 0
    with gzip.open(out, "wb", compresslevel=level) as dst:
        for k in range(copies):
            shift = (k * time_span_ms, k * update_span, k * trade_span)
            recv_shift = k * time_span_ms * NS_PER_MS
            chunk = []
            for recv, pieces, fields in tpl:
                parts = [b"%d " % (recv + recv_shift)]
                for piece, (kind, v) in zip(pieces, fields, strict=False):
                    parts.append(piece)
                    parts.append(b"%d" % (v + shift[kind]))
                parts.append(pieces[-1])
                parts.append(b"\n")
                chunk.append(b"".join(parts))
            dst.write(b"".join(chunk))
            n += len(chunk)
    return {
        "file": str(out),
        "copies": copies,
        "lines": n,
        "hours": copies * span_ns / 3600e9,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.make_capture", description=__doc__.split("\n")[0]
    )
    parser.add_argument("out", type=Path, help="output .gz file")
    parser.add_argument("--hours", type=float, default=1.0, help="length of the capture")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    info = write_capture(args.out, args.hours)
    print(
        f"wrote {info['lines']:,} lines ({info['copies']} copies, {info['hours']:.2f} h) "
        f"to {info['file']} in {time.perf_counter() - t0:.1f} s",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
