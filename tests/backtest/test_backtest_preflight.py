"""``mm backtest`` checks its input before it writes anything.

* A parameter set that can never quote the instrument is reported at start in one
  warning line naming the parameter and its minimum; every warned run indeed places no
  order, and the same parameter just above the minimum quotes (no false alarm).
* An empty or reversed time range, or one without data, fails in one line naming what
  the lake holds, and leaves no ``--out`` behind (a folder that was there stays as it was).

The sample (binance-usdm BTCUSDT, 2024-08-08 23:54:15.030 to 23:59:59.833): trades and best
bid/ask from 61,590.30 to 61,839.90; lot 0.001 BTC, so one lot is worth 61.59 to 61.84 USDT;
Binance's minimum order is 100 USDT, so the smallest order is 2 lots = 123.18 to 123.68 USDT.
"""

from __future__ import annotations

import json
import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from cli.cmd_backtest import run_backtest
from cli.main import app
from core.errors import MMError
from core.instruments import InstrumentSpec, known_instrument
from core.lake import instrument_path
from core.params import StrategyParams
from operators.quoting.feasibility import never_quote_warning
from warehouse.lake_writer import write_instrument

VENUE, SYMBOL = "binance-usdm", "BTCUSDT"
END = "2024-08-08T23:55:00Z"  # 45 s of the sample: enough to quote, quick to run
LOT_NOTE = "(raise it; one lot is 0.001 BTCUSDT)"


@pytest.fixture(scope="module")
def no_minimum_lake(sample_lake: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample lake with the spec's venue minimum order removed: an order below one
    lot then rounds to 0 lots instead of up to the minimum."""
    lake = tmp_path_factory.mktemp("no_minimum") / "lake"
    shutil.copytree(sample_lake, lake)
    instrument_path(lake, VENUE, SYMBOL).unlink()
    write_instrument(lake, InstrumentSpec(VENUE, SYMBOL, Decimal("0.10"), Decimal("0.001")))
    return lake


def _params(tmp_path: Path, name: str, **sections: dict[str, Any]) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(sections))
    return path


def _cli(*args: str) -> Any:
    return CliRunner().invoke(app, ["backtest", *args])


def _run(
    lake: Path, tmp_path: Path, name: str, **sections: dict[str, Any]
) -> tuple[list[str], int]:
    """Warnings and orders placed of a short backtest with these parameters."""
    warnings: list[str] = []
    params = _params(tmp_path, name, **sections)
    s = run_backtest(lake, VENUE, SYMBOL, tmp_path / name, params, end=END, progress=False,
                     warn=warnings.append)  # fmt: skip
    return warnings, s["orders_placed"]


# -- 7: parameters that can never quote ---------------------------------------------------


def test_order_size_below_one_lot_is_one_warning_line_and_places_nothing(
    no_minimum_lake: Path, tmp_path: Path
) -> None:
    params = _params(tmp_path, "small", quote={"order_size_usd": 10})
    out = tmp_path / "run"
    res = _cli("--lake", str(no_minimum_lake), "--out", str(out), "--params", str(params),
               "--end", END, "--json")  # fmt: skip
    assert res.exit_code == 0, res.output
    assert res.stderr.splitlines() == [
        "mm backtest: warning: binance-usdm:BTCUSDT can never quote: quote.order_size_usd 10"
        " is below one lot, 61.59 to 61.84 USDT in the data: every order rounds to 0 lots "
        + LOT_NOTE
    ]
    assert json.loads(res.stdout)["orders_placed"] == 0  # the warning is true
    # one lot at the highest price: quotes, and no warning
    warnings, placed = _run(no_minimum_lake, tmp_path, "lot", quote={"order_size_usd": 62})
    assert warnings == [] and placed > 0


def test_position_limit_below_the_smallest_order(sample_lake: Path, tmp_path: Path) -> None:
    # 100 USDT = the venue minimum, but positions are whole lots: at most 1 lot (x 1.2 in
    # the low-volatility regime: 120 / 61.59 -> 1), and 1 lot is below the 100 USDT minimum
    warnings, placed = _run(sample_lake, tmp_path, "p100", risk={"max_position_usd": 100})
    assert warnings == [
        "binance-usdm:BTCUSDT can never quote: risk.max_position_usd 100 is below the smallest"
        " order, 2 lots = 123.18 to 123.68 USDT in the data: the position limit holds no order "
        + LOT_NOTE
    ]
    assert placed == 0
    warnings, placed = _run(sample_lake, tmp_path, "p125", risk={"max_position_usd": 125})
    assert warnings == [] and placed > 0  # 125 / 61.84 -> 2 lots: the smallest order fits


SMALLEST = "the smallest order, 2 lots = "


@pytest.mark.parametrize(
    ("sections", "named"),
    [
        (
            {"orders": {"max_order_usd": 100}},
            f"orders.max_order_usd 100 is below {SMALLEST}123.18 to 123.68 USDT in the data",
        ),
        (
            {"risk": {"max_position_units": 0.0015}},  # x 1.2 = 0.0018 -> 1 lot
            f"risk.max_position_units 0.0015 is below {SMALLEST}0.002 BTCUSDT",
        ),
        (  # no skew while flat, no bias: every quote is >= the 1 bps half spread from mid
            {"orders": {"price_band_bps": 0.9}},
            "orders.price_band_bps 0.9 is below the closest a quote gets to mid, 1.00 bps",
        ),
    ],
    ids=["max_order", "max_position_units", "price_band"],
)
def test_other_parameters_that_can_never_quote(
    sample_lake: Path, tmp_path: Path, sections: dict[str, Any], named: str
) -> None:
    warnings, placed = _run(sample_lake, tmp_path, "p", **sections)
    assert len(warnings) == 1 and f"never quote: {named}: " in warnings[0], warnings
    assert placed == 0


def test_several_blockers_share_one_line(sample_lake: Path, tmp_path: Path) -> None:
    res = _cli("--lake", str(sample_lake), "--out", str(tmp_path / "run"), "--end", END,
               "--params", str(_params(tmp_path, "two", risk={"max_position_usd": 50},
                                       orders={"price_band_bps": 0.9})))  # fmt: skip
    assert res.exit_code == 0, res.output
    [line] = res.stderr.splitlines()
    assert line.startswith("mm backtest: warning: binance-usdm:BTCUSDT can never quote: ")
    assert "risk.max_position_usd 50 is below" in line and "orders.price_band_bps 0.9" in line
    assert line.endswith("(raise them; one lot is 0.001 BTCUSDT)")


def test_defaults_on_the_sample_warn_nothing(sample_lake: Path, tmp_path: Path) -> None:
    warnings, placed = _run(sample_lake, tmp_path, "defaults")
    assert warnings == [] and placed > 0


def test_checks_without_a_price_and_with_an_open_position() -> None:
    spec = known_instrument(VENUE, SYMBOL)
    assert spec is not None
    p = StrategyParams.model_validate({"orders": {"max_order_usd": 99}})
    # no price known (a Kafka replay): the venue minimum alone still decides
    assert never_quote_warning(spec, p) == (
        "binance-usdm:BTCUSDT can never quote: orders.max_order_usd 99 is below the venue's"
        " minimum order, 100.00 USDT: every order fails the pre-trade check " + LOT_NOTE
    )
    small = StrategyParams.model_validate({"risk": {"max_position_usd": 50}})
    assert "risk.max_position_usd 50" in (
        never_quote_warning(spec, small, (61_590.3, 61_839.9)) or ""
    )
    # an open position (live) can still be reduced with a limit of 0 lots: no warning
    assert never_quote_warning(spec, small, (61_590.3, 61_839.9), flat=False) is None
    # skew moves a quote towards mid only with a position: flat, a 0.9 bps band blocks;
    # with one open, skew 0.5 brings a side to 0.5 bps of mid
    band = StrategyParams.model_validate({"orders": {"price_band_bps": 0.9}})
    assert never_quote_warning(spec, band) is not None
    assert never_quote_warning(spec, band, flat=False) is None


# -- 8: empty, reversed or data-less ranges -------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("2024-08-08T23:59:00Z", "2024-08-08T23:55:00Z"),
        ("2024-08-08T23:55:00Z", "2024-08-08T23:55:00Z"),
    ],
    ids=["reversed", "empty"],
)
def test_reversed_or_empty_range_is_one_line_and_leaves_no_out(
    sample_lake: Path, tmp_path: Path, start: str, end: str
) -> None:
    out = tmp_path / "run"
    res = _cli("--lake", str(sample_lake), "--out", str(out), "--start", start, "--end", end)
    assert res.exit_code == 1
    assert res.output.splitlines() == [
        f"mm backtest: error: the time range is empty: start {start[:-1]}.000Z is not before"
        f" end {end[:-1]}.000Z (give a start earlier than the end)"
    ]
    assert not out.exists()
    # the same before any connection for a Kafka replay
    res = _cli("--lake", str(sample_lake), "--out", str(out), "--start", start, "--end", end,
               "--source", "kafka", "--bootstrap", "127.0.0.1:9")  # fmt: skip
    assert res.exit_code == 1 and "the time range is empty" in res.output
    assert not out.exists()


SPAN = "the lake holds it from 2024-08-08T23:54:15.030Z to 2024-08-08T23:59:59.833Z"


@pytest.mark.parametrize(
    ("args", "asked"),
    [
        (["--start", "2024-08-09"], "from 2024-08-09T00:00:00.000Z on"),
        (["--end", "2024-08-08T23:00:00Z"], "before 2024-08-08T23:00:00.000Z"),
        # the same day, just before the first row: the footers alone cannot tell
        (["--start", "2024-08-08T23:54:00Z", "--end", "2024-08-08T23:54:15Z"],
         "from 2024-08-08T23:54:00.000Z to 2024-08-08T23:54:15.000Z"),
    ],
    ids=["after", "before", "same_day_gap"],
)  # fmt: skip
def test_range_without_data_names_the_lakes_span(
    sample_lake: Path, tmp_path: Path, args: list[str], asked: str
) -> None:
    out = tmp_path / "run"
    res = _cli("--lake", str(sample_lake), "--out", str(out), *args)
    assert res.exit_code == 1
    assert res.output.splitlines() == [
        f"mm backtest: error: no market data for binance-usdm:BTCUSDT {asked}: {SPAN}"
        " (choose a start and end inside that span)"
    ]
    assert not out.exists()


def test_a_bad_range_keeps_an_existing_out_as_it_was(sample_lake: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    res = _cli("--lake", str(sample_lake), "--out", str(out), "--end", END, "--json")
    assert res.exit_code == 0, res.output
    before = {p.relative_to(out): p.stat().st_mtime_ns for p in out.rglob("*")}
    assert Path("summary.json") in before
    res = _cli("--lake", str(sample_lake), "--out", str(out), "--force", "--start", "2024-08-09")
    assert res.exit_code == 1 and "no market data" in res.output
    assert {p.relative_to(out): p.stat().st_mtime_ns for p in out.rglob("*")} == before
    empty = tmp_path / "empty"
    empty.mkdir()
    res = _cli("--lake", str(sample_lake), "--out", str(empty), "--start", "2024-08-09")
    assert res.exit_code == 1 and empty.is_dir() and not any(empty.iterdir())


def test_a_run_failing_midway_removes_the_out_it_created(lake_copy: Path, tmp_path: Path) -> None:
    # corrupt the data pages of the XRP book file, footer intact: the range check passes,
    # the replay fails while the run directory already exists
    [book] = (lake_copy / "book_deltas" / "venue=bybit").rglob("*.parquet")
    raw = bytearray(book.read_bytes())
    mid = len(raw) // 3
    raw[mid : mid + 64] = b"\xff" * 64
    book.write_bytes(bytes(raw))
    out = tmp_path / "run"
    with pytest.raises(Exception) as err:  # whichever error the Parquet reader raises
        run_backtest(lake_copy, "bybit", "XRPUSDT", out, progress=False)
    assert not isinstance(err.value, MMError)  # the run failed, not the checks before it
    assert "replay" in str(err.value)
    assert not out.exists()
