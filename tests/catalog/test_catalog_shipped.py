"""The shipped instrument catalog and the user overlay behind KNOWN_INSTRUMENTS / known_instrument."""

from __future__ import annotations

import fnmatch
import json
import tomllib
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest

from core.errors import MMError
from core.instrument_catalog import (
    SHIPPED_CATALOG,
    format_catalog,
    lookup,
    parse_catalog,
    shipped_catalog,
    user_catalog_path,
)
from core.instruments import KNOWN_INSTRUMENTS, InstrumentSpec, known_instrument

REPO = Path(__file__).resolve().parents[2]

# The entries mm shipped before the catalog file existed (the bundled recordings' and the
# ones tests and captures rely on), exactly as they were.
LEGACY = {
    "binance-usdm:BTCUSDT": ("0.10", "0.001", "100", None, "USDT", "linear", "1", "USDT"),
    "binance-usdm:ETHUSDT": ("0.01", "0.001", "20", None, "USDT", "linear", "1", "USDT"),
    "bybit:BTCUSDT": ("0.10", "0.001", "5", None, "USDT", "linear", "1", "USDT"),
    "bybit:ETHUSDT": ("0.01", "0.01", "5", None, "USDT", "linear", "1", "USDT"),
    "bybit:XRPUSDT": ("0.0001", "1", "5", None, "USDT", "linear", "1", "USDT"),
    "bybit:SOLUSDT": ("0.010", "0.1", "5", None, "USDT", "linear", "1", "USDT"),
    "hyperliquid:BTC": ("0.1", "0.00001", "10", 5, "USDC", "linear", "1", "USDC"),
    "hyperliquid:ETH": ("0.01", "0.0001", "10", 5, "USDC", "linear", "1", "USDC"),
    "hyperliquid:SOL": ("0.001", "0.01", "10", 5, "USDC", "linear", "1", "USDC"),
    "binance-coinm:BTCUSD_PERP": ("0.1", "1", "0", None, "USD", "inverse", "100", "BTC"),
    "binance-coinm:ETHUSD_PERP": ("0.01", "1", "0", None, "USD", "inverse", "10", "ETH"),
    "binance-coinm:SOLUSD_PERP": ("0.01", "1", "0", None, "USD", "inverse", "10", "SOL"),
    "binance-coinm:XRPUSD_PERP": ("0.0001", "1", "0", None, "USD", "inverse", "10", "XRP"),
    "bybit:BTCUSD": ("0.5", "1", "0", None, "USD", "inverse", "1", "BTC"),
    "bybit:ETHUSD": ("0.05", "1", "0", None, "USD", "inverse", "1", "ETH"),
}


def _terms(spec: InstrumentSpec) -> tuple:
    return (
        str(spec.tick_size),
        str(spec.lot_size),
        str(spec.min_notional),
        spec.price_sig_figs,
        spec.quote_currency,
        spec.kind,
        str(spec.contract_size),
        spec.settle_currency,
    )


def test_every_shipped_entry_is_a_valid_spec_with_its_provenance() -> None:
    doc = json.loads(SHIPPED_CATALOG.read_text())
    assert doc["as_of"] == "2026-12-01" and "instruments-info" in doc["source"]
    ids = [f"{e['venue']}:{e['symbol']}" for e in doc["instruments"]]
    assert len(ids) == len(set(ids)) == len(shipped_catalog().specs)
    for entry in doc["instruments"]:
        spec = InstrumentSpec.from_dict(entry)
        # every number is a plain decimal string, never a float or an exponent
        for name in ("tick_size", "lot_size", "min_notional", "contract_size"):
            assert isinstance(entry[name], str) and "E" not in entry[name], (spec.id, name)
        assert InstrumentSpec.from_dict(spec.to_dict()) == spec
    kinds = Counter((s.venue, s.kind) for s in shipped_catalog().specs.values())
    assert kinds == {
        ("bybit", "linear"): 21,
        ("bybit", "inverse"): 8,
        ("binance-usdm", "linear"): 21,
        ("binance-coinm", "inverse"): 13,
        ("hyperliquid", "linear"): 20,
    }


def test_the_legacy_entries_are_unchanged() -> None:
    for inst, terms in LEGACY.items():
        assert _terms(KNOWN_INSTRUMENTS[inst]) == terms, inst


def test_venue_rules_hold_for_every_entry() -> None:
    for spec in shipped_catalog().specs.values():
        if spec.venue == "binance-coinm":  # 100 USD contracts for BTC, 10 USD for the rest
            assert spec.contract_size == (100 if spec.symbol == "BTCUSD_PERP" else 10), spec.id
            assert spec.symbol == f"{spec.settle_currency}USD_PERP" and spec.lot_size == 1
        elif spec.venue == "bybit" and spec.kind == "inverse":  # 1 USD contracts
            assert spec.contract_size == 1 and spec.symbol == f"{spec.settle_currency}USD"
        elif spec.venue == "hyperliquid":
            assert (spec.price_sig_figs, spec.quote_currency, spec.min_notional) == (5, "USDC", 10)
            # lot 10^-szDecimals and tick 10^-(6 - szDecimals); the legacy SOL entry keeps
            # the finer-than-needed grid tests were written against (refresh corrects it)
            if spec.symbol != "SOL":
                exponents = spec.tick_size.as_tuple().exponent + spec.lot_size.as_tuple().exponent
                assert exponents == -6, spec.id
        else:
            assert spec.kind == "linear" and spec.quote_currency == "USDT", spec.id


def test_the_catalog_file_is_package_data() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["core"]
    relative = SHIPPED_CATALOG.relative_to(REPO / "core").as_posix()
    assert any(fnmatch.fnmatch(relative, p) for p in patterns)
    assert "core*" in config["tool"]["setuptools"]["packages"]["find"]["include"]


def test_mapping_view_and_lookup() -> None:
    assert len(KNOWN_INSTRUMENTS) == len(shipped_catalog().specs)
    assert "bybit:BTCUSDT" in KNOWN_INSTRUMENTS and "bybit:NOPE" not in KNOWN_INSTRUMENTS
    for bad in ("bybit:NOPE", "BTCUSDT", "bybit:", ":BTCUSDT"):
        with pytest.raises(KeyError):
            KNOWN_INSTRUMENTS[bad]
    assert known_instrument("bybit", "NOPE") is None
    assert (
        known_instrument("binance-coinm", "BTCUSD_PERP")
        is KNOWN_INSTRUMENTS["binance-coinm:BTCUSD_PERP"]
    )


def test_user_entries_win_and_are_reread_when_the_file_changes(mm_home: Path) -> None:
    assert user_catalog_path() == mm_home / "instruments.json"
    mine = InstrumentSpec("bybit", "BTCUSDT", Decimal("0.5"), Decimal("0.001"), Decimal("5"))
    new = InstrumentSpec("bybit", "FOOUSDT", Decimal("0.001"), Decimal("1"))
    user_catalog_path().write_text(format_catalog({mine.id: mine}))
    assert known_instrument("bybit", "BTCUSDT") == mine
    assert KNOWN_INSTRUMENTS["bybit:BTCUSDT"].tick_size == Decimal("0.5")
    assert len(KNOWN_INSTRUMENTS) == len(shipped_catalog().specs)
    user_catalog_path().write_text(format_catalog({mine.id: mine, new.id: new}))
    assert lookup("bybit", "FOOUSDT") == new
    assert len(KNOWN_INSTRUMENTS) == len(shipped_catalog().specs) + 1
    user_catalog_path().unlink()
    assert _terms(known_instrument("bybit", "BTCUSDT")) == LEGACY["bybit:BTCUSDT"]
    assert known_instrument("bybit", "FOOUSDT") is None


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("{not json", "is not valid JSON"),
        ('{"instruments": {}}', "has no 'instruments' list"),
        ('{"instruments": [1]}', "entry 0 is not an object"),
        ('{"instruments": [{"venue": "bybit", "symbol": "X", "lot_size": "1"}]}',
         "entry 0 lacks 'tick_size'"),
        ('{"instruments": [{"venue": "bybit", "symbol": "X", "tick_size": "0", "lot_size": "1"}]}',
         "entry 0: tick_size '0' for bybit:X must be positive"),
        ('{"instruments": [{"venue": "bybit", "symbol": "X", "tick_size": "0.1", "lot_size": "1",'
         ' "kind": "future"}]}', "entry 0: instrument kind 'future' for bybit:X is not known"),
    ],
)  # fmt: skip
def test_a_broken_user_catalog_is_an_error_naming_the_file(text: str, error: str) -> None:
    user_catalog_path().write_text(text)
    with pytest.raises(MMError) as info:
        known_instrument("bybit", "BTCUSDT")
    assert f"instrument catalog {user_catalog_path()}" in info.value.message
    assert error in info.value.message
    assert info.value.hint == f"fix or delete {user_catalog_path()}"


def test_format_and_parse_round_trip_one_line_per_instrument() -> None:
    specs = shipped_catalog().specs
    text = format_catalog(specs, "2026-12-01", "test")
    assert len(text.splitlines()) == len(specs) + 2
    back = parse_catalog(text, "x")
    assert back.specs == specs and (back.as_of, back.source) == ("2026-12-01", "test")
    assert parse_catalog(format_catalog({}), "x").specs == {}
