"""``mm import`` through the real CLI: malformed lines are skipped and reported; unreadable
files fail with one line on stderr, exit 1, and leave the lake without a single data file."""

from __future__ import annotations

import gzip
from collections import Counter
from pathlib import Path

import pytest
from fnd_helpers import (
    BINANCE_SAMPLE,
    HYPERLIQUID_SAMPLE,
    expected_binance,
    json_output,
    lake_files,
    lake_table,
    raw_lines,
    run_mm,
)

OFF_TICK = (
    "price 61800.25 is not a multiple of tick size 0.10 for binance-usdm:BTCUSDT "
    "(round it onto the tick size grid first)"
)


@pytest.fixture(scope="module")
def malformed_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[bytes]]:
    """The first 120 lines of the Binance capture with three broken lines (4, 9, 11)."""
    lines = raw_lines(BINANCE_SAMPLE)[:120]
    assert b'"e":"bookTicker"' in lines[3] and b'"e":"trade"' in lines[8]
    assert b'"e":"bookTicker"' in lines[10] and b'"B":"2.534",' in lines[10]
    assert b'"p":"61800.30"' in lines[8]
    bad = list(lines)
    bad[3] = lines[3][: len(lines[3]) // 2]  # cut mid-JSON
    bad[8] = lines[8].replace(b'"p":"61800.30"', b'"p":"61800.25"')  # off the 0.10 tick
    bad[10] = lines[10].replace(b'"B":"2.534",', b"")  # bid size missing
    path = tmp_path_factory.mktemp("malformed") / "binance_malformed.gz"
    with gzip.open(path, "wb") as fh:
        fh.write(b"\n".join(bad) + b"\n")
    good = [ln for i, ln in enumerate(lines) if i not in (3, 8, 10)]
    return path, good


def test_malformed_lines_are_reported_and_skipped(
    malformed_file: tuple[Path, list[bytes]], tmp_path: Path
) -> None:
    path, good = malformed_file
    lake = tmp_path / "lake"
    proc = run_mm("import", str(path), "--lake", str(lake), "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    report = json_output(proc)
    assert report["format"] == "binance-usdm"
    assert (report["lines"], report["messages"], report["malformed"]) == (120, 117, 3)
    assert report["malformed_lines"] == [
        {"line": 4, "reason": "not valid JSON"},
        {"line": 9, "reason": OFF_TICK},
        {"line": 11, "reason": "missing field 'B' in bookTicker"},
    ]
    # the 117 good lines are all in the lake, nothing of the 3 bad ones
    exp = expected_binance(good)
    book = lake_table(lake, "book_deltas", "binance-usdm", "BTCUSDT")
    trades = lake_table(lake, "trades", "binance-usdm", "BTCUSDT")
    bbo = lake_table(lake, "bbo", "binance-usdm", "BTCUSDT")
    assert (book.num_rows, trades.num_rows, bbo.num_rows) == (
        len(exp.book),
        len(exp.trades),
        len(exp.bbo),
    )
    cols = ("recv_ts", "kind", "side", "price", "qty")
    assert Counter(zip(*(book.column(c).to_pylist() for c in cols), strict=True)) == Counter(
        exp.book
    )
    assert sorted(trades.column("trade_id").to_pylist()) == sorted(t[0] for t in exp.trades)
    assert sorted(bbo.column("seq").to_pylist()) == sorted(b[0] for b in exp.bbo)
    assert "5266583936" not in trades.column("trade_id").to_pylist()  # line 9's trade


def test_malformed_lines_in_human_output(
    malformed_file: tuple[Path, list[bytes]], tmp_path: Path
) -> None:
    path, _ = malformed_file
    proc = run_mm("import", str(path), "--lake", str(tmp_path / "lake"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "malformed 3" in out
    assert "    line 4: not valid JSON\n" in out
    assert f"    line 9: {OFF_TICK}\n" in out
    assert "    line 11: missing field 'B' in bookTicker\n" in out
    assert proc.stderr == ""


def _half(src: Path, dst: Path) -> Path:
    data = src.read_bytes()
    dst.write_bytes(data[: len(data) // 2])
    return dst


def _corrupt(src: Path, dst: Path) -> Path:
    data = bytearray(src.read_bytes())
    for i in range(200, len(data) - 100, 997):  # flip bytes inside the deflate stream
        data[i] ^= 0x5A
    dst.write_bytes(bytes(data))
    return dst


def _bad_header(src: Path, dst: Path) -> Path:
    dst.write_bytes(b"\x1f\x8b" + b"\xff" * 64)  # gzip magic, garbage after it
    return dst


def _empty(src: Path, dst: Path) -> Path:
    dst.write_bytes(b"")
    return dst


def _all_malformed(src: Path, dst: Path) -> Path:
    dst.write_bytes(b'1723161255030314667 {"stream":\n1723161255030314668 {"e":"depthUpdate"\n')
    return dst


def _unknown(src: Path, dst: Path) -> Path:
    dst.write_text("time,price,size\n1,2,3\n")
    return dst


@pytest.mark.parametrize(
    ("make", "source", "extra", "message"),
    [
        # Binance cut in half: detected fine, fails after parsing ~47k lines
        (_half, BINANCE_SAMPLE, (), "is truncated (compressed stream ends early)"),
        (_half, HYPERLIQUID_SAMPLE, ("--format", "hyperliquid"), "is truncated"),
        (_corrupt, HYPERLIQUID_SAMPLE, (), "is corrupt"),
        (_corrupt, HYPERLIQUID_SAMPLE, ("--format", "hyperliquid"), "is corrupt"),
        (_bad_header, HYPERLIQUID_SAMPLE, ("--format", "hyperliquid"), "is corrupt"),
        (_unknown, HYPERLIQUID_SAMPLE, (), "cannot detect the format of"),
        (_empty, HYPERLIQUID_SAMPLE, (), "(it is empty)"),
        (
            _all_malformed,
            HYPERLIQUID_SAMPLE,
            ("--format", "binance-usdm"),
            "could be read as binance-usdm (2 malformed; line 1: not valid JSON)",
        ),
        (None, HYPERLIQUID_SAMPLE, ("--format", "okx"), "unknown format 'okx'"),
        (None, None, (), "not found (check the path)"),
    ],
    ids=[
        "truncated-binance",
        "truncated-hl-format",
        "corrupt",
        "corrupt-format",
        "bad-header",
        "unknown-content",
        "empty-file",
        "all-lines-malformed",
        "unknown-format-flag",
        "missing-file",
    ],
)
def test_unreadable_input_fails_cleanly(
    tmp_path: Path, make: object, source: Path | None, extra: tuple[str, ...], message: str
) -> None:
    if source is None:
        target = tmp_path / "does-not-exist.gz"
    elif make is None:
        target = source
    else:
        target = make(source, tmp_path / f"input{source.suffix}")  # type: ignore[operator]
    lake = tmp_path / "lake"
    proc = run_mm("import", str(target), "--lake", str(lake), *extra, cwd=tmp_path)
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    err_lines = proc.stderr.splitlines()
    assert len(err_lines) == 1, proc.stderr
    assert err_lines[0].startswith("mm import: error: ")
    assert message in err_lines[0]
    assert "Traceback" not in proc.stderr + proc.stdout
    assert proc.stdout == ""
    # nothing written: no partition, no spec, no staging or temp file
    assert not lake.exists() or lake_files(lake) == []
    assert not lake.exists() or not [p for p in lake.rglob("*") if p.name.startswith(".")]


def test_json_flag_on_an_error_still_one_line(tmp_path: Path) -> None:
    proc = run_mm("import", str(tmp_path / "nope.gz"), "--json", cwd=tmp_path)
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.splitlines() == [
        f"mm import: error: file {tmp_path / 'nope.gz'} not found (check the path)"
    ]


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    proc = run_mm(cwd=tmp_path)
    assert proc.returncode == 2
    assert "Usage: " in proc.stderr and "import" in proc.stderr
    proc = run_mm("import", cwd=tmp_path)
    assert proc.returncode == 2 and "Missing argument" in proc.stderr
    proc = run_mm("import", "x.gz", "--tick-size", "abc", cwd=tmp_path)
    assert proc.returncode == 2 and "'abc' is not a number" in proc.stderr
    proc = run_mm("no-such-command", cwd=tmp_path)
    assert proc.returncode == 2


def test_json_report_of_a_clean_import(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    proc = run_mm("import", str(HYPERLIQUID_SAMPLE), "--lake", str(lake), "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    report = json_output(proc)
    assert (report["lines"], report["messages"], report["ignored"], report["malformed"]) == (
        55,
        55,
        0,
        0,
    )
    assert report["malformed_lines"] == []
    assert report["rows"] == {
        "book_deltas hyperliquid:BTC": {"parsed": 1_840, "written": 1_840, "duplicates": 0},
        "trades hyperliquid:BTC": {"parsed": 64, "written": 64, "duplicates": 0},
    }
    again = json_output(
        run_mm("import", str(HYPERLIQUID_SAMPLE), "--lake", str(lake), "--json", cwd=tmp_path)
    )
    assert {k: v["written"] for k, v in again["rows"].items()} == {
        "book_deltas hyperliquid:BTC": 0,
        "trades hyperliquid:BTC": 0,
    }
