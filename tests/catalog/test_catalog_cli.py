"""``mm instruments list|show|add`` and imports resolving against the catalog with no flags."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from catalog_helpers import (
    binance_depth_file,
    bybit_book_file,
    error_line,
    hyperliquid_book_file,
    mm,
    mm_json,
)

from core.errors import MMError
from core.instrument_catalog import shipped_catalog, user_catalog_path
from core.instruments import InstrumentSpec, known_instrument
from core.lake import read_instrument
from warehouse.importer import import_file

UNKNOWN_HINT = (
    "(run `mm instruments refresh --venue {venue}` when online, add it with "
    "`mm instruments add {inst} --tick-size ... --lot-size ...`, or pass --tick-size and --lot-size)"
)


def test_known_symbols_of_each_venue_import_with_no_flags(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    files = [
        (bybit_book_file(tmp_path / "b.data", ("DOGEUSDT", "0.41234", "0.41240"),
                         ("BTCUSD", "96000.5", "96001.0")), "bybit"),
        (binance_depth_file(tmp_path / "s.txt", "SOLUSDT", "150.1200", "150.1300"), "binance-usdm"),
        (hyperliquid_book_file(tmp_path / "h.txt", "DOGE", "0.31234", "0.31240"), "hyperliquid"),
    ]  # fmt: skip
    for path, fmt in files:
        report = import_file(path, lake, fmt, progress=False)
        assert report.malformed == 0 and all(c["written"] == 2 for c in report.rows.values())
    for venue, symbol in [("bybit", "DOGEUSDT"), ("bybit", "BTCUSD"),
                          ("binance-usdm", "SOLUSDT"), ("hyperliquid", "DOGE")]:  # fmt: skip
        assert read_instrument(lake, venue, symbol) == shipped_catalog().specs[f"{venue}:{symbol}"]
    inverse = read_instrument(lake, "bybit", "BTCUSD")
    assert (inverse.kind, inverse.contract_size, inverse.settle_currency) == (
        "inverse",
        Decimal(1),
        "BTC",
    )


def test_an_unknown_symbol_says_how_to_add_it(tmp_path: Path) -> None:
    capture = binance_depth_file(tmp_path / "f.txt", "FOOUSDT", "1.2340", "1.2350")
    with pytest.raises(MMError) as info:
        import_file(capture, tmp_path / "lake", "binance-usdm", progress=False)
    inst = "binance-usdm:FOOUSDT"
    assert str(info.value) == (
        f"unknown instrument {inst}: it is not in the instrument catalog "
        + UNKNOWN_HINT.format(venue="binance-usdm", inst=inst)
    )
    # added by hand, the same file imports with no flags
    added = mm("instruments", "add", inst, "--tick-size", "0.0010", "--lot-size", "1")
    assert added.exit_code == 0, added.stderr
    assert added.stdout == f"added {inst} (tick 0.0010 / lot 1) in {user_catalog_path()}\n"
    import_file(capture, tmp_path / "lake", "binance-usdm", progress=False)
    assert read_instrument(tmp_path / "lake", "binance-usdm", "FOOUSDT").tick_size == Decimal(
        "0.001"
    )


def test_show_and_list() -> None:
    shown = mm_json("instruments", "show", "binance-coinm:BTCUSD_PERP")
    assert shown == {
        "venue": "binance-coinm", "symbol": "BTCUSD_PERP", "tick_size": "0.1", "lot_size": "1",
        "min_notional": "0", "price_sig_figs": None, "quote_currency": "USD", "kind": "inverse",
        "contract_size": "100", "settle_currency": "BTC", "id": "binance-coinm:BTCUSD_PERP",
        "from": "shipped",
    }  # fmt: skip
    text = mm("instruments", "show", "hyperliquid:BTC").stdout.splitlines()
    assert text[:4] == [
        "venue            hyperliquid",
        "symbol           BTC",
        "tick_size        0.1",
        "lot_size         0.00001",
    ]
    rows = mm_json("instruments", "list", "--venue", "hyperliquid")
    assert len(rows) == 20 and {r["from"] for r in rows} == {"shipped"}
    assert [r["id"] for r in rows][:3] == ["hyperliquid:AAVE", "hyperliquid:ADA", "hyperliquid:APT"]
    listing = mm("instruments", "list", "--venue", "binance-coinm").stdout.splitlines()
    assert listing[0].split() == [
        "instrument", "kind", "tick", "lot", "min", "notional", "contract", "quote", "settle", "from"
    ]  # fmt: skip
    assert listing[1].split() == [
        "binance-coinm:ADAUSD_PERP", "inverse", "0.00010", "1", "0", "10", "USD", "ADA", "shipped"
    ]  # fmt: skip
    assert listing[-1] == (
        f"(13 instruments; shipped catalog as of 2026-12-01, yours: {user_catalog_path()})"
    )
    everything = mm_json("instruments", "list")
    assert len(everything) == len(shipped_catalog().specs)


def test_add_defaults_per_venue_and_inverse_terms() -> None:
    out = mm_json(
        "instruments", "add", "hyperliquid:NEW", "--tick-size", "0.001", "--lot-size", "0.001",
        "--min-notional", "10",
    )  # fmt: skip
    assert out["added"] == ["hyperliquid:NEW"]
    assert known_instrument("hyperliquid", "NEW") == InstrumentSpec(
        "hyperliquid", "NEW", Decimal("0.001"), Decimal("0.001"), Decimal(10),
        price_sig_figs=5, quote_currency="USDC",
    )  # fmt: skip
    inverse = mm(
        "instruments", "add", "binance-coinm:NEWUSD_PERP", "--tick-size", "0.001",
        "--lot-size", "1", "--kind", "inverse", "--contract-size", "10", "--settle", "NEW",
    )  # fmt: skip
    assert inverse.exit_code == 0, inverse.stderr
    spec = known_instrument("binance-coinm", "NEWUSD_PERP")
    assert (spec.kind, spec.contract_size, spec.quote_currency, spec.settle_currency) == (
        "inverse",
        Decimal(10),
        "USD",
        "NEW",
    )
    assert mm_json("instruments", "show", "binance-coinm:NEWUSD_PERP")["from"] == "user"
    # replacing a shipped entry reports the changed fields; the user's entry wins
    changed = mm("instruments", "add", "bybit:BTCUSDT", "--tick-size", "0.5", "--lot-size", "0.001",
                 "--min-notional", "5")  # fmt: skip
    assert changed.stdout.splitlines() == [
        f"changed bybit:BTCUSDT (tick 0.5 / lot 0.001) in {user_catalog_path()}",
        "  changed bybit:BTCUSDT: tick_size 0.10 -> 0.5",
    ]
    assert known_instrument("bybit", "BTCUSDT").tick_size == Decimal("0.5")
    ids = [e["symbol"] for e in json.loads(user_catalog_path().read_text())["instruments"]]
    assert ids == ["NEWUSD_PERP", "BTCUSDT", "NEW"]  # sorted by venue:symbol
    # adding the shipped terms back drops the user's copy
    mm("instruments", "add", "bybit:BTCUSDT", "--tick-size", "0.10", "--lot-size", "0.001",
       "--min-notional", "5")  # fmt: skip
    assert mm_json("instruments", "show", "bybit:BTCUSDT")["from"] == "shipped"


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["FOOUSDT"], "bad instrument id 'FOOUSDT' (use VENUE:SYMBOL, e.g. bybit:BTCUSDT)"),
        (["kraken:FOO"], "unknown venue 'kraken' (use one of bybit, binance-usdm, binance-coinm, "
                         "hyperliquid)"),
        (["bybit:NEWUSD", "--kind", "inverse", "--settle", "NEW"],
         "inverse bybit:NEWUSD needs its contract size (pass --contract-size, the USD value of one "
         "contract)"),
        (["bybit:NEWUSD", "--kind", "inverse", "--contract-size", "1"],
         "inverse bybit:NEWUSD needs its settlement coin (pass --settle, e.g. BTC)"),
        (["bybit:NEWUSDT", "--contract-size", "10"],
         "contract_size 10 for linear bybit:NEWUSDT: only inverse contracts have a contract size"),
        (["bybit:NEWUSDT", "--kind", "future"],
         "instrument kind 'future' for bybit:NEWUSDT is not known (use one of linear, inverse, spot)"),
    ],
)  # fmt: skip
def test_add_refuses_bad_input(args: list[str], error: str) -> None:
    result = mm("instruments", "add", *args, "--tick-size", "0.01", "--lot-size", "1")
    assert error_line(result) == f"mm instruments add: error: {error}"
    assert not user_catalog_path().exists()


def test_bad_numbers_are_usage_errors() -> None:
    result = mm("instruments", "add", "bybit:NEWUSDT", "--tick-size", "abc", "--lot-size", "1")
    assert result.exit_code == 2 and "'abc' is not a number" in result.stderr
    result = mm("instruments", "add", "bybit:NEWUSDT", "--tick-size", "0.1", "--lot-size", "-1")
    assert result.exit_code == 2 and "'-1' must be positive" in result.stderr
    result = mm("instruments", "add", "bybit:NEWUSDT", "--lot-size", "1")
    assert result.exit_code == 2 and "--tick-size" in result.stderr
    assert not user_catalog_path().exists()


def test_show_and_list_errors() -> None:
    inst = "bybit:NOPEUSDT"
    assert error_line(mm("instruments", "show", inst)) == (
        f"mm instruments show: error: unknown instrument {inst}: it is not in the instrument "
        "catalog " + UNKNOWN_HINT.format(venue="bybit", inst=inst)
    )
    assert error_line(mm("instruments", "list", "--venue", "kraken")) == (
        "mm instruments list: error: unknown venue 'kraken' "
        "(use one of bybit, binance-usdm, binance-coinm, hyperliquid)"
    )
    user_catalog_path().write_text("{oops")
    line = error_line(mm("instruments", "list"))
    assert line.startswith(f"mm instruments list: error: instrument catalog {user_catalog_path()}")
    assert line.endswith(f"(fix or delete {user_catalog_path()})")
