"""``mm import``: a venue recording -> normalised lake tables.

The whole file is parsed before anything is written, so a corrupt or truncated file
leaves the lake untouched. Large files spill parsed rows to a private staging folder
(removed afterwards, or on the next import after a crash). Malformed lines are
counted, reported with their line numbers, and skipped.
"""

from __future__ import annotations

import gzip
import io
import shutil
import time
import uuid
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

import orjson
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from connectors.binance.loader import BinanceFuturesLoader
from connectors.bybit.loader import BybitLoader
from connectors.capture import Loader, split_capture_line
from connectors.hyperliquid.loader import HyperliquidLoader
from connectors.rows import Parsed
from core.errors import DataFormatError, LakeError, MalformedLine, MMError
from core.instruments import InstrumentSpec, known_instrument
from core.lake import instrument_path, read_instrument, table_def
from core.progress import Progress
from warehouse.lake_writer import WriteResult, write_instrument, write_rows

FORMATS: dict[str, Callable[..., Loader]] = {
    "bybit": BybitLoader,
    "binance-usdm": BinanceFuturesLoader,
    "hyperliquid": HyperliquidLoader,
}
SNIFF_LINES = 200
SPILL_ROWS = 2_000_000
MAX_REPORTED = 20


@dataclass
class ImportReport:
    file: str
    format: str
    lines: int = 0
    messages: int = 0
    ignored: int = 0
    malformed: int = 0
    malformed_lines: list[tuple[int, str]] = field(default_factory=list)
    rows: dict[str, dict[str, int]] = field(default_factory=dict)  # "table venue:symbol" -> counts
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "format": self.format,
            "lines": self.lines,
            "messages": self.messages,
            "ignored": self.ignored,
            "malformed": self.malformed,
            "malformed_lines": [{"line": n, "reason": r} for n, r in self.malformed_lines],
            "rows": self.rows,
            "seconds": round(self.seconds, 3),
        }


@dataclass
class SpecOverrides:
    tick_size: Decimal | None = None
    lot_size: Decimal | None = None
    min_notional: Decimal | None = None


def _open_raw(path: Path) -> tuple[IO[bytes], IO[bytes]]:
    """(decompressed line stream, underlying file for progress) for gzip, zip or plain."""
    if not path.exists():
        raise DataFormatError(f"file {path} not found", "check the path")
    if not path.is_file():
        raise DataFormatError(f"{path} is not a file")
    raw = open(path, "rb")  # noqa: SIM115 - closed by the caller
    magic = raw.read(4)
    raw.seek(0)
    if magic[:2] == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=raw), raw  # type: ignore[return-value]
    if magic == b"PK\x03\x04":
        try:
            zf = zipfile.ZipFile(raw)
            names = [n for n in zf.namelist() if not n.endswith("/")]
        except zipfile.BadZipFile:
            raw.close()
            raise DataFormatError(f"{path} is a corrupt zip file", "re-download it") from None
        if len(names) != 1:
            raw.close()
            raise DataFormatError(f"{path} holds {len(names)} files", "import one member at a time")
        return zf.open(names[0]), raw
    return raw, raw


_READ_ERRORS = (EOFError, gzip.BadGzipFile, zlib.error, zipfile.BadZipFile, OSError)


def _lines(stream: IO[bytes], path: Path) -> Iterator[bytes]:
    try:
        yield from io.BufferedReader(stream, buffer_size=1 << 20)  # type: ignore[arg-type]
    except EOFError:
        raise DataFormatError(
            f"{path} is truncated (compressed stream ends early)", "re-copy or re-download the file"
        ) from None
    except _READ_ERRORS as exc:
        raise DataFormatError(
            f"{path} is corrupt ({type(exc).__name__}: {exc})", "re-copy or re-download the file"
        ) from None


def detect_format(path: Path) -> str:
    """Name of the first loader that recognises a message in the file's first lines."""
    stream, raw = _open_raw(path)
    probes = [cls(lambda v, s: None) for cls in FORMATS.values()]  # type: ignore[arg-type, return-value]
    first = ""
    try:
        for i, line in enumerate(_lines(stream, path)):
            if i >= SNIFF_LINES:
                break
            line = line.strip()
            if not line:
                continue
            first = first or line[:80].decode("utf-8", "replace")
            try:
                msg = orjson.loads(split_capture_line(line)[1])
            except (orjson.JSONDecodeError, MalformedLine):
                continue
            for probe in probes:
                if probe.sniff(msg):
                    return probe.format_name
    finally:
        raw.close()
    shown = f" (first line: {first!r})" if first else " (it is empty)"
    raise DataFormatError(
        f"cannot detect the format of {path}{shown}",
        f"pass --format {'|'.join(FORMATS)}",
    )


class _Spool:
    """Per (table, venue, symbol) row buffers that spill to staging Parquet when large."""

    def __init__(self, staging: Path) -> None:
        self.staging = staging
        self.buffers: dict[tuple[str, str, str], list[tuple]] = {}
        self.spilled: dict[tuple[str, str, str], list[Path]] = {}
        self.counts: dict[tuple[str, str, str], int] = {}
        self.pending = 0

    def add(self, table: str, venue: str, symbol: str, rows: list[tuple]) -> None:
        if not rows:
            return
        k = (table, venue, symbol)
        self.buffers.setdefault(k, []).extend(rows)
        self.counts[k] = self.counts.get(k, 0) + len(rows)
        self.pending += len(rows)
        if self.pending >= SPILL_ROWS:
            self.spill()

    def spill(self) -> None:
        for k, rows in self.buffers.items():
            if rows:
                path = self.staging / f"{len(self.spilled.get(k, []))}-{'-'.join(k)}.parquet"
                self.staging.mkdir(parents=True, exist_ok=True)
                pq.write_table(_to_arrow(k[0], rows), path, compression="lz4")
                self.spilled.setdefault(k, []).append(path)
        self.buffers = {k: [] for k in self.buffers}
        self.pending = 0

    def frames(self) -> Iterator[tuple[tuple[str, str, str], pl.DataFrame]]:
        for k in sorted(set(self.buffers) | set(self.spilled)):
            parts = [pl.from_arrow(pq.read_table(p)) for p in self.spilled.get(k, [])]
            if self.buffers.get(k):
                parts.append(pl.from_arrow(_to_arrow(k[0], self.buffers[k])))
            if parts:
                yield k, pl.concat(parts)  # type: ignore[misc]


def _to_arrow(table: str, rows: list[tuple]) -> pa.Table:
    schema = table_def(table).schema
    columns = list(zip(*rows, strict=True))
    return pa.Table.from_arrays(
        [pa.array(col, type=f.type) for col, f in zip(columns, schema, strict=True)], schema=schema
    )


def _clean_stale_staging(lake: Path) -> None:
    root = lake / ".staging"
    if root.is_dir():
        for d in root.iterdir():
            if d.is_dir() and time.time() - d.stat().st_mtime > 3600:
                shutil.rmtree(d, ignore_errors=True)


def make_resolver(lake: Path, overrides: SpecOverrides) -> Callable[[str, str], InstrumentSpec]:
    def resolve(venue: str, symbol: str) -> InstrumentSpec:
        if overrides.tick_size is not None or overrides.lot_size is not None:
            if overrides.tick_size is None or overrides.lot_size is None:
                raise MMError("--tick-size and --lot-size must be given together")
            return InstrumentSpec(
                venue,
                symbol,
                overrides.tick_size,
                overrides.lot_size,
                overrides.min_notional or Decimal(0),
            )
        if instrument_path(lake, venue, symbol).is_file():
            return read_instrument(lake, venue, symbol)
        spec = known_instrument(venue, symbol)
        if spec is None:
            raise MMError(
                f"unknown instrument {venue}:{symbol}: its tick and lot size are not known",
                "pass --tick-size and --lot-size",
            )
        return spec

    return resolve


def import_file(
    path: str | Path,
    lake: str | Path,
    fmt: str | None = None,
    overrides: SpecOverrides | None = None,
    progress: bool = True,
) -> ImportReport:
    path, lake = Path(path), Path(lake)
    if fmt is not None and fmt not in FORMATS:
        raise MMError(f"unknown format {fmt!r}", f"use one of {', '.join(FORMATS)}")
    fmt = fmt or detect_format(path)
    if lake.exists() and not lake.is_dir():
        raise LakeError(f"lake {lake} is not a directory")
    loader = FORMATS[fmt](make_resolver(lake, overrides or SpecOverrides()))
    report = ImportReport(file=str(path), format=fmt)
    t0 = time.monotonic()
    lake.mkdir(parents=True, exist_ok=True)
    _clean_stale_staging(lake)
    staging = lake / ".staging" / uuid.uuid4().hex
    spool = _Spool(staging)
    stream, raw = _open_raw(path)
    total = path.stat().st_size
    specs: dict[tuple[str, str], InstrumentSpec] = {}

    def take(line_no: int, parsed: list[Parsed]) -> None:
        for p in parsed:
            specs[(loader.venue, p.symbol)] = loader.spec(p.symbol)
            spool.add("book_deltas", loader.venue, p.symbol, p.book)
            spool.add("trades", loader.venue, p.symbol, p.trades)
            spool.add("bbo", loader.venue, p.symbol, p.bbo)

    def bad(line_no: int, reason: str) -> None:
        report.malformed += 1
        if len(report.malformed_lines) < MAX_REPORTED:
            report.malformed_lines.append((line_no, reason))

    try:
        with Progress(f"import {path.name}", total, enabled=progress) as bar:
            for line_no, line in enumerate(_lines(stream, path), start=1):
                report.lines = line_no
                if line_no % 20_000 == 0:
                    bar.update(raw.tell(), f"{line_no:,} lines")
                line = line.strip()
                if not line:
                    continue
                try:
                    recv, payload = split_capture_line(line)
                    try:
                        msg = orjson.loads(payload)
                    except orjson.JSONDecodeError:
                        raise MalformedLine("not valid JSON") from None
                    parsed = loader.parse(line_no, recv, msg)
                except MalformedLine as exc:
                    bad(line_no, exc.reason)
                    continue
                if parsed is None:
                    report.ignored += 1
                    continue
                report.messages += 1
                take(line_no, parsed)
            bar.update(total)
        for line_no, item in loader.finish():
            if isinstance(item, MalformedLine):
                bad(line_no, item.reason)
            else:
                report.messages += 1
                take(line_no, [item])
        if report.messages == 0:
            if report.malformed:
                first = report.malformed_lines[0]
                raise DataFormatError(
                    f"no line of {path} could be read as {fmt} "
                    f"({report.malformed} malformed; line {first[0]}: {first[1]})",
                    "check --format",
                )
            raise DataFormatError(f"{path} holds no market data", "check the file")
        report.malformed_lines.sort()
        for _, spec in sorted(specs.items()):
            write_instrument(lake, spec)
        for (table, venue, symbol), frame in spool.frames():
            res: WriteResult = write_rows(lake, table, venue, symbol, frame)
            report.rows[f"{table} {venue}:{symbol}"] = {
                "parsed": res.rows_in,
                "written": res.written,
                "duplicates": res.duplicates,
            }
    finally:
        raw.close()
        shutil.rmtree(staging, ignore_errors=True)
    report.seconds = time.monotonic() - t0
    return report
