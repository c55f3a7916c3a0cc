"""The ``mm`` command: one entry point for every user command.

Conventions: human output by default, ``--json`` for scripts; exit 0 on success, 1 on
failure, 2 on bad usage; errors are one line ``mm <command>: error: <what> (<hint>)``
and a traceback appears only with ``--debug``.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from core.errors import MMError

app = typer.Typer(
    name="mm",
    help="Market making on Bytewax: import, verify, replay-backtest, optimize, trade live.",
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    no_args_is_help=True,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
SAMPLE_FILE = REPO_ROOT / "data" / "sample" / "binance-usdm_btcusdt_20240808.gz"

_state = {"debug": False}
F = TypeVar("F", bound=Callable[..., Any])


def fail(command: str, message: str, code: int = 1) -> typer.Exit:
    print(f"mm {command}: error: {message}", file=sys.stderr)
    return typer.Exit(code)


def root_cause(exc: BaseException) -> BaseException:
    """The innermost cause: a dataflow wraps the real error in a BytewaxRuntimeError."""
    seen = set()
    while exc.__cause__ is not None and id(exc) not in seen:
        seen.add(id(exc))
        exc = exc.__cause__
    return exc


def guarded(command: str) -> Callable[[F], F]:
    """Turn exceptions into the one-line error convention (tracebacks with --debug)."""

    def wrap(fn: F) -> F:
        @functools.wraps(fn)
        def inner(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except (typer.Exit, typer.Abort, typer.TyperException, SystemExit):
                raise  # TyperException: usage errors (BadParameter) exit 2 via typer
            except KeyboardInterrupt:
                raise fail(command, "interrupted", 130) from None
            except Exception as exc:
                if _state["debug"]:
                    raise
                root = root_cause(exc)
                if isinstance(root, MMError):
                    raise fail(command, str(root)) from None
                text = str(root).strip().splitlines()[0] if str(root).strip() else ""
                raise fail(
                    command,
                    f"unexpected {type(root).__name__}: {text} (rerun with --debug for a traceback)",
                ) from None

        return inner  # type: ignore[return-value]

    return wrap


def emit_json(data: Any) -> None:
    try:
        print(json.dumps(data, indent=2, default=str))
        sys.stdout.flush()
    except BrokenPipeError:  # `mm ... --json | head`: the reader left; not an error
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - keeps interpreter shutdown quiet


@app.callback()
def main_options(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
) -> None:
    _state["debug"] = debug


def _decimal(value: str | None, name: str) -> Decimal | None:
    if value is None:
        return None
    try:
        d = Decimal(value)
    except InvalidOperation:
        raise typer.BadParameter(f"{value!r} is not a number", param_hint=name) from None
    if not d.is_finite() or d <= 0:
        raise typer.BadParameter(f"{value!r} must be positive", param_hint=name)
    return d


LakeOpt = Annotated[Path, typer.Option("--lake", help="Parquet lake directory.")]


@app.command("import")
@guarded("import")
def import_cmd(
    files: Annotated[
        list[str],
        typer.Argument(
            help="Recordings (.gz, .zip or plain), directories (every recognised file) or "
            "globs (quoted is fine).",
            show_default=False,
        ),
    ],
    lake: LakeOpt = Path("data/lake"),
    fmt: Annotated[
        str | None,
        typer.Option(
            "--format",
            help="bybit | binance-usdm | binance-coinm | hyperliquid | tardis | bybit-trades "
            "(auto-detected per file if omitted).",
        ),
    ] = None,
    tick_size: Annotated[
        str | None, typer.Option(help="Tick size for an instrument not known to mm.")
    ] = None,
    lot_size: Annotated[
        str | None, typer.Option(help="Lot size for an instrument not known to mm.")
    ] = None,
    min_notional: Annotated[str | None, typer.Option(help="Minimum order notional.")] = None,
    mixed: Annotated[
        bool, typer.Option("--mixed", help="Allow files of different instruments in one import.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Import venue recordings into the Parquet lake: all files or none (idempotent)."""
    from warehouse.import_inputs import expand_inputs
    from warehouse.importer import SpecOverrides, detect_format, import_files

    overrides = SpecOverrides(
        _decimal(tick_size, "--tick-size"),
        _decimal(lot_size, "--lot-size"),
        _decimal(min_notional, "--min-notional"),
    )
    paths, skipped = expand_inputs(files, detect_format)
    report = import_files(paths, lake, fmt, overrides, not as_json, mixed, skipped)
    if as_json:
        emit_json(report.to_dict())
        return
    print(format_import(report))


def format_import(report: Any) -> str:
    """The human import report: per-file lines (several files), rows, notes, skips."""
    out = [f"imported {report.file} as {report.format} in {report.seconds:.1f} s"]
    if len(report.files) > 1:
        for f in report.files:
            out.append(
                f"  {Path(f.file).name:<40} {f.format:<13} lines {f.lines:>10,}  "
                f"messages {f.messages:>10,}  malformed {f.malformed:,}"
            )
    out.append(
        f"  lines {report.lines:,}  messages {report.messages:,}  ignored {report.ignored:,}  "
        f"malformed {report.malformed:,}"
    )
    for name, c in sorted(report.rows.items()):
        out.append(
            f"  {name:<40} {c['written']:>10,} rows written  ({c['duplicates']:,} already in the lake)"
        )
    for note in report.notes:
        out.append(f"  note: {note}")
    for file, why in report.skipped:
        out.append(f"  skipped {file}: {why}")
    if report.malformed:
        shown = len(report.malformed_lines)
        out.append(f"  malformed lines (first {shown} of {report.malformed:,}), skipped:")
        for line_no, reason in report.malformed_lines:
            out.append(f"    line {line_no}: {reason}")
    return "\n".join(out)


@app.command("verify-book")
@guarded("verify-book")
def verify_book_cmd(
    lake: LakeOpt = Path("data/lake"),
    venue: Annotated[
        str, typer.Option(help="Venue, e.g. binance-usdm, bybit, hyperliquid.")
    ] = "binance-usdm",
    symbol: Annotated[str, typer.Option(help="Symbol, e.g. BTCUSDT.")] = "BTCUSDT",
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Replay the lake's book through the book operator: gaps, resyncs, crossed books, bbo agreement."""
    from warehouse.verify import format_verify, verify_book

    if not lake.is_dir():
        raise MMError(f"lake {lake} does not exist", "import data first with `mm import`")
    result = verify_book(lake, venue, symbol, progress=not as_json)
    if as_json:
        emit_json(result)
    else:
        print(format_verify(result))


@app.command("replay-book")
@guarded("replay-book")
def replay_book_cmd(
    lake: LakeOpt = Path("data/lake"),
    venue: Annotated[str, typer.Option()] = "binance-usdm",
    symbol: Annotated[list[str] | None, typer.Option(help="Repeat for several symbols.")] = None,
    out: Annotated[
        Path | None, typer.Option(help="Lake to write features to (default: --lake).")
    ] = None,
    workers: Annotated[int, typer.Option(min=1)] = 1,
) -> None:
    """Run flows.replay_book: book -> top-of-book features written to the lake."""
    from flows.replay_book import build_flow
    from warehouse.runner import run_flow

    instruments = [f"{venue}:{s}" for s in (symbol or ["BTCUSDT"])]
    flow = build_flow(lake, instruments, out)
    run_flow(flow, workers)
    print(f"features written to {(out or lake) / 'features'}")


@app.command("demo")
@guarded("demo")
def demo_cmd(
    lake: LakeOpt = Path("data/lake"),
    out: Annotated[Path, typer.Option(help="Run directory of the demo backtest.")] = Path(
        "runs/demo"
    ),
    sample: Annotated[Path, typer.Option(help="Recording to run the demo on.")] = SAMPLE_FILE,
) -> None:
    """The main job on the bundled sample: import, verify the book, backtest, report."""
    from cli.cmd_backtest import format_summary, run_backtest
    from warehouse.importer import import_file
    from warehouse.verify import format_verify, verify_book

    print(f"== import {sample.name} -> {lake}")
    report = import_file(sample, lake)
    for name, c in sorted(report.rows.items()):
        print(
            f"  {name:<40} {c['written']:>10,} new rows ({c['duplicates']:,} already in the lake)"
        )
    print("== verify-book")
    print(format_verify(verify_book(lake, "binance-usdm", "BTCUSDT")))
    print(f"== backtest -> {out}")
    summary = run_backtest(lake, "binance-usdm", "BTCUSDT", out, force=True)
    print(format_summary(summary, out))
    from warehouse.report import run_report

    result = run_report(out)
    print(f"== report\n  {result.out}  ({result.plots} plots; self-contained, works offline)")


def _load_command_modules() -> None:
    """Import every ``cli/cmd_*.py``; each registers its commands on ``app``."""
    import importlib
    import pkgutil

    import cli

    for info in sorted(pkgutil.iter_modules(cli.__path__), key=lambda m: m.name):
        if info.name.startswith("cmd_"):
            importlib.import_module(f"cli.{info.name}")


_load_command_modules()


def main() -> None:
    app(prog_name="mm")


if __name__ == "__main__":
    # `python -m cli.main` runs this file as __main__; command modules register on the
    # imported `cli.main` module's app, so run that one.
    import cli.main as _cli

    _cli.main()
