"""HTML reports: self-contained, every plot present, deterministic; the daily report."""

from __future__ import annotations

import json
import re
import shutil
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner
from wh_data import FILLS, PNL, T0, frame

from core.errors import MMError
from core.instruments import InstrumentSpec
from warehouse.attribution import attribute
from warehouse.duck import Catalog
from warehouse.lake_writer import write_instrument, write_rows
from warehouse.report import daily_report, run_report

PLOT_TITLES = ("Cumulative PnL and attribution", "Inventory", "Quotes (level 0) vs mid",
               "Markout curves", "Fill rate by level", "Risk state")  # fmt: skip


def _plots(text: str) -> list[str]:
    return re.findall(r'<div class="plot">(<svg.*?</svg>)\s*</div>', text, flags=re.S)


@pytest.fixture(scope="module")
def made(hand_run: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """`mm report RUN_DIR` on a copy of the hand-made run (default output path)."""
    from cli.main import app

    run = tmp_path_factory.mktemp("report") / "runA"
    shutil.copytree(hand_run, run)
    res = CliRunner().invoke(app, ["report", str(run), "--json"])
    assert res.exit_code == 0, res.output
    return run, json.loads(res.output)


def assert_self_contained(text: str) -> None:
    """Opens offline: no scripts, no external stylesheets, images or fonts."""
    low = text.lower()
    assert "<script" not in low and "<link" not in low and "@import" not in low
    assert not re.search(r'\s(src|href)="(https?:)?//', low)
    assert not re.search(r"url\((['\"]?)https?:", low)
    ids = re.findall(r'\sid="([^"]+)"', text)
    dup = [k for k, n in Counter(ids).items() if n > 1]
    assert not dup, f"duplicate element ids across plots: {dup[:5]}"


def test_mm_report_writes_into_the_run_directory(made: tuple[Path, dict]) -> None:
    run, info = made
    assert info["out"] == str(run / "report.html")
    assert (info["plots"], info["instruments"]) == (6, ["binance-usdm:TESTUSDT"])
    assert (run / "report.html").stat().st_size == info["bytes"]


def test_run_report_has_every_plot_and_the_summary(made: tuple[Path, dict]) -> None:
    text = (made[0] / "report.html").read_text()
    plots = _plots(text)
    assert len(plots) == 6
    for title in PLOT_TITLES:
        assert sum(title in p for p in plots) == 1, title
    assert all(p.count("<path") >= 5 for p in plots)  # drawn, not "no data" placeholders
    assert_self_contained(text)
    assert "<td>net_pnl</td><td>0.96875</td>" in text  # summary.json
    assert '<td>markouts.5s.avg_bps</td><td class="neg">-9.9</td>' in text
    assert "<td>  spread capture</td><td>0.5</td>" in text  # attribution from the views
    assert "<td>cancel ratio</td><td>0.571429</td>" in text  # 4 / 7


def test_run_report_is_deterministic(made: tuple[Path, dict], tmp_path: Path) -> None:
    run_report(made[0], tmp_path / "again.html")
    assert (tmp_path / "again.html").read_bytes() == (made[0] / "report.html").read_bytes()


def test_compare_puts_two_runs_side_by_side(hand_run: Path, tmp_path: Path) -> None:
    from wh_data import ORDERS, QUOTES, write_run

    other = write_run(tmp_path / "runB", {"quotes": QUOTES, "orders": ORDERS, "fills": FILLS[:1],
                                          "pnl": PNL[:4]}, summary={"net_pnl": 1.0125})  # fmt: skip
    out = tmp_path / "cmp.html"
    res = run_report(hand_run, out, compare=other)
    text = out.read_text()
    assert res.runs == ["runA", "runB"] and res.plots == 12
    assert len(_plots(text)) == 12
    assert text.count('<div class="grid" style="--cols:2">') == 6  # one row per plot kind
    assert "<th>B - A</th>" in text
    assert "<td>net_pnl</td><td>0.96875</td><td>1.0125</td><td>0.04375</td>" in text
    assert_self_contained(text)


def test_report_errors(tmp_path: Path) -> None:
    with pytest.raises(MMError, match=r"run directory .*nope does not exist"):
        run_report(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(MMError, match="no run tables in"):
        run_report(tmp_path / "empty")


def test_daily_report_over_the_lake(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    spec = InstrumentSpec("binance-usdm", "TESTUSDT", Decimal("0.5"), Decimal("0.25"), Decimal(0))
    write_instrument(lake, spec)
    trades = [{"recv_ts": T0 + i * 10**9, "exch_ts": T0 + i * 10**9, "ord": i, "trade_id": str(i),
               "price": 200 + i, "qty": 4, "side": 1} for i in range(3)]  # fmt: skip
    write_rows(lake, "trades", spec.venue, spec.symbol, frame("trades", trades))
    write_rows(lake, "fills", spec.venue, spec.symbol, frame("fills", FILLS))  # paper trading
    write_rows(lake, "pnl", spec.venue, spec.symbol, frame("pnl", PNL))
    out = tmp_path / "daily.html"
    res = daily_report(lake, out, "2024-08-08")
    (t,) = res["trading"]
    assert (t["run"], t["symbol"], t["pnl"], t["fills"]) == ("lake", "TESTUSDT", 0.96875, 3)
    (m,) = res["market"]
    assert (m["trades"], m["volume"], m["low"], m["high"]) == (3, 3.0, 100.0, 101.0)
    text = out.read_text()
    assert res["plots"] == 2 and len(_plots(text)) == 2
    assert_self_contained(text)
    with pytest.raises(MMError, match="no trading or market data for 2024-08-09"):
        daily_report(lake, tmp_path / "none.html", "2024-08-09")


def test_sample_backtest_views_agree_with_its_summary(sample_run: Path) -> None:
    """The SQL views and the trader's own summary are independent implementations."""
    s = json.loads((sample_run / "summary.json").read_text())
    with Catalog(runs=[sample_run]) as cat:
        (a,) = attribute(cat)
        (ms,) = cat.rows("SELECT * FROM maker_share")
        (cr,) = cat.rows("SELECT * FROM cancel_ratio")
        curve = {r["horizon_s"]: r for r in cat.rows("SELECT * FROM markout_curve WHERE side = 0")}
        (inv,) = cat.rows("SELECT * FROM inventory")
    assert a.fills == s["fills"] > 0
    assert a.total_pnl == pytest.approx(s["net_pnl"], abs=1e-9)
    parts = a.spread_capture + a.inventory + a.fees_rebates
    assert abs(a.total_pnl - parts) < 1e-9 and abs(a.residual) < 1e-9
    assert a.fees_rebates == pytest.approx(-s["fees"], abs=1e-9)
    assert a.variance_explained > 0.9  # the mm-bot plan's target
    assert ms["maker_share"] == pytest.approx(s["maker_share"])
    assert (cr["placed"], cr["cancels"]) == (s["orders_placed"], s["cancels"])
    assert cr["cancel_ratio"] == pytest.approx(s["cancel_ratio"])
    for h in (1, 5, 30, 60):
        mk = s["markouts"][f"{h}s"]
        assert curve[h]["fills"] == mk["fills"]
        assert curve[h]["avg_bps"] == pytest.approx(mk["avg_bps"], abs=1e-4)  # summary rounds
    assert inv["max_abs_position"] == pytest.approx(s["max_abs_inventory"])
