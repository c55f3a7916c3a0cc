"""``mm import FILE... | DIR | GLOB``: one import of many files is all or nothing, gives
the same lake whatever the order of the files, re-importing any subset writes nothing,
and a directory's unrecognised files are named as skipped."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pyarrow as pa
import pytest
from fnd_helpers import HYPERLIQUID_SAMPLE, json_output, lake_files, lake_table, raw_lines, run_mm

from core.lake import MARKET_TABLES
from warehouse.importer import import_files

VENUE, SYMBOL = "hyperliquid", "BTC"


@pytest.fixture(scope="module")
def parts(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """The Hyperliquid capture cut into three gzip files, in time order."""
    lines = raw_lines(HYPERLIQUID_SAMPLE)
    d = tmp_path_factory.mktemp("parts")
    cuts = [0, len(lines) // 3, 2 * len(lines) // 3, len(lines)]
    out = []
    for i in range(3):
        path = d / f"btc_part{i + 1}.gz"
        path.write_bytes(gzip.compress(b"\n".join(lines[cuts[i] : cuts[i + 1]]) + b"\n"))
        out.append(path)
    return out


def _tables(lake: Path, keep_ord: bool = True) -> dict[str, list[tuple]]:
    out = {}
    for table in MARKET_TABLES:
        t: pa.Table = lake_table(lake, table, VENUE, SYMBOL)
        cols = [
            c for c in t.column_names if c not in ("venue", "symbol") and (keep_ord or c != "ord")
        ]
        out[table] = sorted(tuple(r[c] for c in cols) for r in t.select(cols).to_pylist())
    return out


def test_out_of_order_files_give_the_in_order_lake(parts: list[Path], tmp_path: Path) -> None:
    shuffled, ordered = tmp_path / "shuffled", tmp_path / "ordered"
    a = import_files([parts[2], parts[0], parts[1]], shuffled, progress=False)
    b = import_files(parts, ordered, progress=False)
    assert [Path(f.file).name for f in a.files] == ["btc_part3.gz", "btc_part1.gz", "btc_part2.gz"]
    assert a.rows == b.rows
    got = _tables(shuffled)
    assert got == _tables(ordered)
    assert len(got["book_deltas"]) > 0 and len(got["trades"]) > 0
    # and the same rows as the uncut capture (ord numbers messages per file, so not it)
    whole = tmp_path / "whole"
    import_files([HYPERLIQUID_SAMPLE], whole, progress=False)
    assert _tables(shuffled, keep_ord=False) == _tables(whole, keep_ord=False)
    assert a.lines == sum(f.lines for f in a.files) == len(raw_lines(HYPERLIQUID_SAMPLE))


def test_reimporting_any_subset_writes_nothing(parts: list[Path], tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    import_files(parts, lake, progress=False)
    before = lake_files(lake)
    for subset in ([parts[1]], [parts[2], parts[0]], parts):
        report = import_files(subset, lake, progress=False)
        assert all(c["written"] == 0 for c in report.rows.values()), subset
    assert lake_files(lake) == before


def test_one_bad_file_imports_nothing(parts: list[Path], tmp_path: Path) -> None:
    truncated = tmp_path / "btc_part4.gz"
    truncated.write_bytes(parts[2].read_bytes()[:-40])
    lake = tmp_path / "lake"
    proc = run_mm(
        "import", str(parts[0]), str(parts[1]), str(truncated), "--lake", str(lake), cwd=tmp_path
    )
    assert proc.returncode == 1
    assert proc.stderr.strip() == (
        f"mm import: error: {truncated} is truncated (compressed stream ends early) "
        "(re-copy or re-download the file)"
    )
    assert [p for p in lake_files(lake) if p.suffix in (".parquet", ".json")] == []


def test_directory_and_quoted_glob(parts: list[Path], tmp_path: Path) -> None:
    d = tmp_path / "day"
    d.mkdir()
    for p in parts:
        shutil.copy(p, d / p.name)
    (d / "README.txt").write_text("notes about this download\n")
    (d / ".hidden.gz").write_bytes(b"")
    proc = run_mm("import", str(d), "--lake", str(tmp_path / "by_dir"), "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    report = json_output(proc)
    assert [Path(f["file"]).name for f in report["files"]] == [p.name for p in parts]
    assert report["skipped"] == [
        {
            "file": str(d / "README.txt"),
            "reason": f"cannot detect the format of {d / 'README.txt'} "
            "(first line: 'notes about this download')",
        }
    ]
    # a quoted glob is expanded by mm, to the same files and the same lake
    glob = run_mm(
        "import", str(d / "btc_part*.gz"), "--lake", str(tmp_path / "by_glob"), cwd=tmp_path
    )
    assert glob.returncode == 0, glob.stderr
    assert "imported 3 files as hyperliquid" in glob.stdout
    for p in parts:
        assert f"  {p.name} " in glob.stdout  # a line per file
    assert _tables(tmp_path / "by_glob") == _tables(tmp_path / "by_dir")
    nothing = run_mm("import", str(d / "*.csv"), "--lake", str(tmp_path / "x"), cwd=tmp_path)
    assert nothing.returncode == 1
    assert (
        nothing.stderr.strip()
        == f"mm import: error: no file matches '{d / '*.csv'}' (check the pattern)"
    )
