"""``mm import``: venue recordings -> normalised lake tables, streamed in bounded memory.

A file is either a capture (one JSON message per line, a ``connectors.capture.Loader``
per venue) or a CSV file (a header, then rows: ``connectors.csv_loader.CsvLoader``,
tardis.dev and Bybit trade history); both give the same row tuples. Any number of files
is one import: one staging, one commit, so the whole set lands or none of it.

Three phases, all in a private staging directory of the lake (``warehouse.staging``):

1. parse: lines -> row tuples -> sorted runs of typed columns per partition
   (``warehouse.import_runs``); memory holds one chunk per table, not the file;
2. prepare: per partition, merge its runs, drop rows whose natural key is already in the
   partition (or earlier in the file) and write one new sorted file with bounded row
   groups (``warehouse.partition_merge``), still in staging;
3. commit: only when every partition's file is complete, create the partition
   directories, record the instrument specs, and rename each file into its partition.

So a corrupt or truncated file, a bad value, or a failure while preparing leaves the lake
exactly as it was; a crash during the commit leaves each partition either as it was or
complete, and re-running the import completes the rest (it writes only missing rows). A
killed import's staging directory and temp files are removed by the next import.
Malformed lines (including out-of-range numbers) are counted, reported with their line
numbers, and skipped.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import os
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

from connectors.binance.loader import BinanceCoinMLoader, BinanceFuturesLoader
from connectors.bybit.loader import BybitLoader
from connectors.bybit.trades_csv import BybitTradesLoader
from connectors.capture import NO_RECV_NOTE, Loader, split_capture_line
from connectors.csv_loader import CsvLoader
from connectors.hyperliquid.loader import HyperliquidLoader
from connectors.rows import BookRows, Parsed
from connectors.tardis.loader import TardisLoader
from core.errors import DataFormatError, LakeError, MalformedLine, MMError
from core.instrument_catalog import unknown_instrument
from core.instruments import InstrumentSpec, known_instrument
from core.lake import data_files, instrument_path, partition_dir, read_instrument
from core.progress import Progress
from warehouse.import_runs import PartitionKey, RowSpool
from warehouse.lake_writer import write_instrument
from warehouse.partition_merge import merge_partition
from warehouse.staging import Staging, clean_stale_staging, clean_stale_temp_files

FORMATS: dict[str, Callable[..., Loader]] = {
    "bybit": BybitLoader,
    "binance-usdm": BinanceFuturesLoader,
    "binance-coinm": BinanceCoinMLoader,
    "hyperliquid": HyperliquidLoader,
}
CSV_FORMATS: dict[str, type[CsvLoader]] = {
    "tardis": TardisLoader,
    "bybit-trades": BybitTradesLoader,
}
ALL_FORMATS = (*FORMATS, *CSV_FORMATS)
SNIFF_LINES = 200
MAX_REPORTED = 20


def _line_counts(r: FileReport | ImportReport) -> dict[str, Any]:
    """The line counts a file's report and a whole import's report both print."""
    return {
        "file": r.file,
        "format": r.format,
        "lines": r.lines,
        "messages": r.messages,
        "ignored": r.ignored,
        "malformed": r.malformed,
        "malformed_lines": [{"line": n, "reason": why} for n, why in r.malformed_lines],
    }


@dataclass
class FileReport:
    """What one input file gave."""

    file: str
    format: str
    lines: int = 0
    messages: int = 0
    ignored: int = 0
    malformed: int = 0
    malformed_lines: list[tuple[int, str]] = field(default_factory=list)
    no_recv_time: bool = False  # recv_ts is the exchange time: the file has none

    def to_dict(self) -> dict[str, Any]:
        return {**_line_counts(self), "no_recv_time": self.no_recv_time}


@dataclass
class ImportReport:
    """One import of one or more files: per-file lines, totals, rows per partition."""

    files: list[FileReport] = field(default_factory=list)
    rows: dict[str, dict[str, int]] = field(default_factory=dict)  # "table venue:symbol" -> counts
    notes: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, why) of a directory
    seconds: float = 0.0

    @property
    def file(self) -> str:
        return self.files[0].file if len(self.files) == 1 else f"{len(self.files)} files"

    @property
    def format(self) -> str:
        return ",".join(dict.fromkeys(f.format for f in self.files))

    @property
    def lines(self) -> int:
        return sum(f.lines for f in self.files)

    @property
    def messages(self) -> int:
        return sum(f.messages for f in self.files)

    @property
    def ignored(self) -> int:
        return sum(f.ignored for f in self.files)

    @property
    def malformed(self) -> int:
        return sum(f.malformed for f in self.files)

    @property
    def malformed_lines(self) -> list[tuple[int, str]]:
        """The first malformed lines of all files (a file's name prefixes the reason)."""
        if len(self.files) == 1:
            return self.files[0].malformed_lines
        return [(n, f"{Path(f.file).name}: {r}") for f in self.files for n, r in f.malformed_lines]

    def to_dict(self) -> dict[str, Any]:
        return {
            **_line_counts(self),
            "rows": self.rows,
            "notes": self.notes,
            "files": [f.to_dict() for f in self.files],
            "skipped": [{"file": f, "reason": r} for f, r in self.skipped],
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


def _csv_header(line: bytes) -> list[str]:
    return line.decode("utf-8", "replace").strip().lstrip("\ufeff").split(",")


def detect_format(path: Path) -> str:
    """A CSV format told by the file's header, else the first loader that recognises a
    message in the file's first lines."""
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
            if not first:
                first = line[:80].decode("utf-8", "replace")
                header = _csv_header(line)
                for name, csv_cls in CSV_FORMATS.items():
                    if csv_cls.sniff(header):
                        return name
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
        f"pass --format {'|'.join(ALL_FORMATS)}",
    )


def make_resolver(lake: Path, overrides: SpecOverrides) -> Callable[[str, str], InstrumentSpec]:
    def resolve(venue: str, symbol: str) -> InstrumentSpec:
        if overrides.tick_size is not None or overrides.lot_size is not None:
            if overrides.tick_size is None or overrides.lot_size is None:
                raise MMError("--tick-size and --lot-size must be given together")
            # the flags override the grid; what a lot *is* (kind, contract size, settlement
            # coin) stays the catalog's, so an override never turns an inverse contract linear
            base = known_instrument(venue, symbol)
            terms = {}
            if base is not None:
                terms = {
                    k: getattr(base, k)
                    for k in ("kind", "contract_size", "settle_currency", "quote_currency")
                }
            return InstrumentSpec(
                venue,
                symbol,
                overrides.tick_size,
                overrides.lot_size,
                overrides.min_notional or Decimal(0),
                **terms,
            )
        if instrument_path(lake, venue, symbol).is_file():
            return read_instrument(lake, venue, symbol)
        spec = known_instrument(venue, symbol)
        if spec is None:
            raise unknown_instrument(venue, symbol)
        return spec

    return resolve


@dataclass
class _Prepared:
    """A partition's complete new file in staging, waiting for the commit."""

    staged: Path
    directory: Path
    name: str


def _check_specs(lake: Path, specs: list[InstrumentSpec]) -> None:
    """Refuse before anything is written if a spec differs from the lake's."""
    for spec in specs:
        if instrument_path(lake, spec.venue, spec.symbol).is_file():
            have = read_instrument(lake, spec.venue, spec.symbol)
            if have.contract_terms() != spec.contract_terms():
                raise LakeError(
                    f"lake has {spec.id} with {have.describe_terms()}, "
                    f"this import uses {spec.describe_terms()}",
                    "use the same instrument spec, or a new lake",
                )


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _make_dirs(dirs: list[Path]) -> None:
    """Create every partition directory, or none (those made here are removed on failure)."""
    made: list[Path] = []
    try:
        for d in dirs:
            missing = [p for p in (d, *d.parents) if not p.exists()]
            d.mkdir(parents=True, exist_ok=True)
            made.extend(reversed(missing))
    except OSError as exc:
        for m in reversed(made):
            with contextlib.suppress(OSError):
                m.rmdir()
        raise LakeError(
            f"cannot create lake partition {d} ({exc.strerror or exc})",
            "fix the lake directory; nothing was imported",
        ) from None


def _commit(lake: Path, specs: list[InstrumentSpec], prepared: list[_Prepared]) -> None:
    """Every file is complete in staging: make the partitions, then rename files in."""
    _make_dirs(sorted({p.directory for p in prepared}))
    for spec in specs:
        write_instrument(lake, spec)
    for p in prepared:
        os.replace(p.staged, p.directory / p.name)
    for d in sorted({p.directory for p in prepared}):
        _fsync_dir(d)


def import_file(
    path: str | Path,
    lake: str | Path,
    fmt: str | None = None,
    overrides: SpecOverrides | None = None,
    progress: bool = True,
) -> ImportReport:
    """Import one file (see :func:`import_files`)."""
    return import_files([path], lake, fmt, overrides, progress)


def import_files(
    paths: list[str | Path] | list[Path],
    lake: str | Path,
    fmt: str | None = None,
    overrides: SpecOverrides | None = None,
    progress: bool = True,
    mixed: bool = False,
    skipped: list[tuple[str, str]] | None = None,
) -> ImportReport:
    """Import files as one unit: one staging, one commit (all of them or nothing).

    Each file's rows are the same whichever files come with it and in whatever order,
    so re-importing any subset writes nothing new. Files of more than one instrument are
    refused unless ``mixed`` (one file of several symbols is fine).
    """
    files, lake = list(dict.fromkeys(Path(p) for p in paths)), Path(lake)
    if not files:
        raise DataFormatError("no files to import", "name files, a directory or a glob")
    if fmt is not None and fmt not in ALL_FORMATS:
        raise MMError(f"unknown format {fmt!r}", f"use one of {', '.join(ALL_FORMATS)}")
    formats = [fmt or detect_format(p) for p in files]
    if lake.exists() and not lake.is_dir():
        raise LakeError(f"lake {lake} is not a directory")
    resolve = make_resolver(lake, overrides or SpecOverrides())
    csv_loaders = {name: cls(resolve) for name, cls in CSV_FORMATS.items() if name in formats}
    report = ImportReport(skipped=list(skipped or []))
    t0 = time.monotonic()
    lake.mkdir(parents=True, exist_ok=True)
    clean_stale_staging(lake)
    clean_stale_temp_files(lake)
    total = sum(p.stat().st_size for p in files)
    label = files[0].name if len(files) == 1 else f"{len(files)} files"
    with Staging(lake) as staging:
        spool = RowSpool(staging.path / "runs")
        found: dict[tuple[str, str], InstrumentSpec] = {}
        owners: dict[tuple[str, str], str] = {}  # instrument -> first file that had it
        done = 0
        with Progress(f"import {label}", total, enabled=progress) as bar:
            for path, name in zip(files, formats, strict=True):
                file_report = FileReport(file=str(path), format=name)
                report.files.append(file_report)
                tick = _ticker(bar, done)
                if name in CSV_FORMATS:
                    specs = _parse_csv(path, csv_loaders[name], spool, file_report, tick)
                else:
                    loader = FORMATS[name](resolve)
                    specs = _parse(path, name, loader, spool, file_report, tick)
                for key in specs:
                    owners.setdefault(key, str(path))
                if len(files) > 1 and len(owners) > 1 and not mixed:
                    _refuse_mixed(owners)
                found.update(specs)
                done += path.stat().st_size
            bar.update(total)
        spool.close()
        report.notes = _notes(report, list(csv_loaders.values()))
        specs_list = [spec for _, spec in sorted(found.items())]
        _check_specs(lake, specs_list)
        prepared = _prepare(lake, spool, staging.path, report, label, progress)
        _commit(lake, specs_list, prepared)
    report.seconds = time.monotonic() - t0
    return report


def _refuse_mixed(owners: dict[tuple[str, str], str]) -> None:
    shown = "; ".join(f"{v}:{s} (in {Path(f).name})" for (v, s), f in sorted(owners.items()))
    raise DataFormatError(
        f"the files hold {len(owners)} instruments: {shown}",
        "import one instrument per run, or pass --mixed to import them all",
    )


def _notes(report: ImportReport, csv_loaders: list[CsvLoader]) -> list[str]:
    notes = [n for loader in csv_loaders for n in loader.notes()]
    bare = [Path(f.file).name for f in report.files if f.no_recv_time and f.format in FORMATS]
    if bare:
        notes.append(
            f"{', '.join(bare)}: {NO_RECV_NOTE}"
            if len(bare) <= 3
            else f"{len(bare)} files: {NO_RECV_NOTE}"
        )
    return notes


Tick = Callable[[int, str], None]


def _ticker(bar: Progress, offset: int) -> Tick:
    """Progress over all files: this file's bytes read, after those of the files before."""

    def tick(position: int, extra: str) -> None:
        bar.update(offset + position, extra)

    return tick


def _bad(report: FileReport, line_no: int, reason: str) -> None:
    report.malformed += 1
    if len(report.malformed_lines) < MAX_REPORTED:
        report.malformed_lines.append((line_no, reason))


def _nothing_read(path: Path, fmt: str, report: FileReport) -> DataFormatError:
    if report.malformed:
        first = report.malformed_lines[0]
        return DataFormatError(
            f"no line of {path} could be read as {fmt} "
            f"({report.malformed} malformed; line {first[0]}: {first[1]})",
            "check --format",
        )
    return DataFormatError(f"{path} holds no market data", "check the file")


def _parse(
    path: Path,
    fmt: str,
    loader: Loader,
    spool: RowSpool,
    report: FileReport,
    tick: Tick,
) -> dict[tuple[str, str], InstrumentSpec]:
    """Phase 1 for a capture (one JSON message per line): every line into the spool."""
    stream, raw = _open_raw(path)
    specs: dict[tuple[str, str], InstrumentSpec] = {}

    venue, add = loader.venue, spool.add

    def take(parsed: list[Parsed]) -> None:
        for symbol, book, trades, bbo in parsed:
            if (venue, symbol) not in specs:
                specs[(venue, symbol)] = loader.spec(symbol)
            if bbo:
                add("bbo", venue, symbol, bbo)
            if trades:
                add("trades", venue, symbol, trades)
            if type(book) is BookRows or book:
                add("book_deltas", venue, symbol, book)

    no_recv = 0
    try:
        for line_no, line in enumerate(_lines(stream, path), start=1):
            report.lines = line_no
            if line_no % 20_000 == 0:
                tick(raw.tell(), f"{line_no:,} lines")
            line = line.strip()
            if not line:
                continue
            try:
                recv, payload = split_capture_line(line)
                if recv is None:
                    no_recv += 1
                try:
                    msg = orjson.loads(payload)
                except orjson.JSONDecodeError:
                    raise MalformedLine("not valid JSON") from None
                parsed = loader.parse(line_no, recv, msg)
            except MalformedLine as exc:
                _bad(report, line_no, exc.reason)
                continue
            if parsed is None:
                report.ignored += 1
                continue
            report.messages += 1
            take(parsed)
    finally:
        raw.close()
    for line_no, item in loader.finish():
        if isinstance(item, MalformedLine):
            _bad(report, line_no, item.reason)
        else:
            report.messages += 1
            take([item])
    if report.messages == 0:
        raise _nothing_read(path, fmt, report)
    report.no_recv_time = no_recv > 0
    report.malformed_lines.sort()
    return specs


def _parse_csv(
    path: Path,
    loader: CsvLoader,
    spool: RowSpool,
    report: FileReport,
    tick: Tick,
) -> dict[tuple[str, str], InstrumentSpec]:
    """Phase 1 for a CSV file: the header, then every row into the spool."""
    stream, raw = _open_raw(path)
    specs: dict[tuple[str, str], InstrumentSpec] = {}
    add = spool.add

    def take(venue: str, parsed: Parsed) -> None:
        symbol, book, trades, bbo = parsed
        if (venue, symbol) not in specs:
            specs[(venue, symbol)] = loader.spec(venue, symbol)
        if bbo:
            add("bbo", venue, symbol, bbo)
        if trades:
            add("trades", venue, symbol, trades)
        if type(book) is BookRows or book:
            add("book_deltas", venue, symbol, book)
        report.messages += 1

    row = None
    try:
        for line_no, line in enumerate(_lines(stream, path), start=1):
            report.lines = line_no
            if line_no % 50_000 == 0:
                tick(raw.tell(), f"{line_no:,} lines")
            text = line.decode("utf-8", "replace").strip()
            if not text:
                continue
            if row is None:
                row = loader.start_file(path.name, _csv_header(line))
                report.ignored += 1  # the header
                continue
            try:
                out = row(line_no, text.split(","))
            except MalformedLine as exc:
                _bad(report, line_no, exc.reason)
                continue
            for venue, parsed in out:
                take(venue, parsed)
    finally:
        raw.close()
    if row is None:
        raise DataFormatError(f"{path} is empty", "check the file")
    for line_no, venue, item in loader.end_file():
        if isinstance(item, MalformedLine):
            _bad(report, line_no, item.reason)
        else:
            take(venue, item)
    if report.messages == 0:
        raise _nothing_read(path, loader.format_name, report)
    report.no_recv_time = not loader.has_recv_time
    report.malformed_lines.sort()
    return specs


def _prepare(
    lake: Path,
    spool: RowSpool,
    staging: Path,
    report: ImportReport,
    label: str,
    progress: bool,
) -> list[_Prepared]:
    """Phase 2: each partition's new rows, deduped, as one complete file in staging."""
    prepared: list[_Prepared] = []
    totals: dict[str, dict[str, int]] = {}
    for (table, venue, symbol), n in sorted(spool.parsed.items()):
        totals[f"{table} {venue}:{symbol}"] = {"parsed": n, "written": 0, "duplicates": 0}
    total = sum(spool.parsed.values())
    done = 0
    with Progress(f"write {label}", total, enabled=progress) as bar:

        def advance(rows: int) -> None:
            nonlocal done
            done += rows
            bar.update(done, f"{done:,} rows")

        key: PartitionKey
        for i, (key, runs) in enumerate(sorted(spool.partitions.items())):
            table, venue, symbol, day = key
            directory = partition_dir(lake, table, venue, symbol, day)
            out = staging / f"part-{i:05d}.parquet"
            res = merge_partition(
                runs.runs, data_files(directory), table, out, staging / f"work-{i:05d}", advance
            )
            runs.remove()
            counts = totals[f"{table} {venue}:{symbol}"]
            counts["written"] += res.written
            counts["duplicates"] += res.duplicates
            if res.written:
                name = f"part-{res.first_time:020d}-{uuid.uuid4().hex[:12]}.parquet"
                prepared.append(_Prepared(out, directory, name))
    report.rows = totals
    return prepared
