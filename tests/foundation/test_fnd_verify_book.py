"""``mm verify-book`` through the real CLI on the sample lake."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from fnd_helpers import clean_env, json_output, run_mm

from warehouse.verify import BboAligner


@pytest.fixture(scope="module")
def binance_verify(sample_lake: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, str]:
    """``--json`` and human output of the same run, the two processes side by side."""
    cwd = tmp_path_factory.mktemp("verify")
    base = ["verify-book", "--lake", str(sample_lake)]  # defaults: binance-usdm BTCUSDT
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "cli.main", *base, *extra],
            cwd=cwd,
            env=clean_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for extra in (["--venue", "binance-usdm", "--symbol", "BTCUSDT", "--json"], [])
    ]
    outs = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0 and err == "", err
        outs.append(out)
    return json.loads(outs[0]), outs[1]


def test_binance_book_agrees_with_the_venue_top(binance_verify: tuple[dict, str]) -> None:
    r = binance_verify[0]
    assert r["instrument"] == "binance-usdm:BTCUSDT"
    # 6,552 book + 21,313 trade + 66,089 bbo messages; events = 445,521 + 21,313 + 2 x 66,089
    assert (r["book_messages"], r["trades"], r["bbo_messages"]) == (6_552, 21_313, 66_089)
    assert r["events"] == 445_521 + 21_313 + 2 * 66_089 == 599_012
    assert (r["snapshots"], r["gaps"], r["resyncs"], r["crossed"]) == (1, 0, 0, 0)
    assert r["final_state"] == "SYNCED"
    # 6 diffs precede the REST snapshot: 4 end before its lastUpdateId (stale), 2 apply
    assert (r["dropped_unsynced"], r["dropped_stale"]) == (0, 4)
    bbo = r["bbo"]
    assert bbo["messages"] == 66_089
    assert bbo["aligned"] == 5_702 and bbo["agree"] == 5_702
    assert bbo["agreement_pct"] >= 99.9 and bbo["agreement_pct"] == 100.0
    assert bbo["aligned"] + bbo["not_alignable"] == 66_089
    assert bbo["mismatches"] == []


def test_human_output(binance_verify: tuple[dict, str]) -> None:
    out = binance_verify[1]
    assert out.startswith("verify-book binance-usdm:BTCUSDT\n")
    assert "  gaps                         0\n" in out
    assert "  crossed books                0\n" in out
    assert "100.000 %  (5,702 of 5,702 bbo messages aligned by update id" in out


def test_venue_without_bbo(sample_lake: Path, tmp_path: Path) -> None:
    proc = run_mm(
        "verify-book", "--lake", str(sample_lake), "--venue", "bybit", "--symbol", "XRPUSDT",
        "--json", cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    r = json_output(proc)
    assert "bbo" not in r
    assert (r["book_messages"], r["gaps"], r["crossed"], r["final_state"]) == (50, 0, 0, "SYNCED")
    assert r["final_levels"] == {"bids": 500, "asks": 500}


def test_missing_lake_and_unknown_instrument(sample_lake: Path, tmp_path: Path) -> None:
    missing = tmp_path / "no-lake"
    proc = run_mm("verify-book", "--lake", str(missing), cwd=tmp_path)
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.splitlines() == [
        f"mm verify-book: error: lake {missing} does not exist (import data first with `mm import`)"
    ]
    proc = run_mm(
        "verify-book", "--lake", str(sample_lake), "--symbol", "ETHUSDT", "--json", cwd=tmp_path
    )
    assert proc.returncode == 1 and proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr
    assert lines[0].startswith(
        f"mm verify-book: error: no instrument binance-usdm:ETHUSDT in lake {sample_lake}"
    )
    assert "the lake has: binance-usdm:BTCUSDT, bybit:XRPUSDT, hyperliquid:BTC" in lines[0]


def test_aligner_compares_each_diff_end_with_the_latest_bbo() -> None:
    """Book states at diff ends u=10, 20, 30; bbos at ids 5, 8 (superseded), 15, 30."""
    a = BboAligner()
    a.push_bbo(5, (1, 1, 2, 1))
    a.push_bbo(8, (1, 2, 2, 1))  # supersedes 5 inside diff (.., 10]
    a.push_book(10, (1, 2, 2, 1))  # agrees with bbo 8
    a.push_bbo(15, (1, 3, 2, 1))
    a.push_book(20, (1, 4, 2, 1))  # disagrees with bbo 15
    a.push_book(30, (1, 5, 2, 1))
    a.push_bbo(30, (1, 5, 2, 1))  # arrives after its diff: still aligned at finish
    a.finish()
    assert (a.aligned, a.agree, a.not_alignable) == (3, 2, 1)
    assert a.mismatches == [
        {"update_id": 20, "book": (1, 4, 2, 1), "bbo_id": 15, "bbo": (1, 3, 2, 1)}
    ]
