"""``mm instruments refresh`` against a local fake of each venue's instruments endpoint."""

from __future__ import annotations

import json
import socket
from decimal import Decimal
from pathlib import Path

import pytest
from catalog_helpers import bybit_book_file, error_line, mm, mm_json
from fake_venues import (
    FakeVenues,
    binance_symbol,
    bybit_inverse,
    bybit_linear,
    hl_asset,
)

from connectors import instrument_sources
from core.instrument_catalog import user_catalog, user_catalog_path
from core.instruments import InstrumentSpec, known_instrument
from core.lake import read_instrument
from warehouse.importer import SpecOverrides, import_file


def _bybit(venues: FakeVenues) -> None:
    venues.bybit_pages = {
        "linear": [
            [
                bybit_linear("BTCUSDT", "0.10", "0.001"),  # as shipped
                bybit_linear("DOGEUSDT", "0.00001", "1"),  # as shipped
                bybit_linear("NEWUSDT", "0.01", "0.1", "5"),
            ],
            [
                bybit_linear("ETHUSDT", "0.05", "0.01"),  # shipped tick 0.01
                bybit_linear("SOONUSDT", "0.01", "1", status="PreLaunch"),
            ],
        ],
        "inverse": [
            [
                bybit_inverse("BTCUSD", "0.10"),
                bybit_inverse("ETHUSD", "0.05"),
                bybit_inverse("NEWUSD", "0.001"),
            ]
        ],
    }


def _catalog_file() -> dict:
    return json.loads(user_catalog_path().read_text())


def test_bybit_pages_through_both_categories_and_writes_the_overlay(venues: FakeVenues) -> None:
    _bybit(venues)
    report = mm_json("instruments", "refresh", "--venue", "bybit")
    assert [(m, p, q) for m, p, q, _ in venues.requests] == [
        ("GET", "/v5/market/instruments-info", {"category": ["linear"], "limit": ["1000"]}),
        ("GET", "/v5/market/instruments-info",
         {"category": ["linear"], "limit": ["1000"], "cursor": ["cursor=1"]}),
        ("GET", "/v5/market/instruments-info", {"category": ["inverse"], "limit": ["1000"]}),
    ]  # fmt: skip
    assert report == {
        "venue": "bybit",
        "fetched": 7,
        "path": str(user_catalog_path()),
        "added": ["bybit:NEWUSD", "bybit:NEWUSDT"],
        "changed": {
            "bybit:BTCUSD": {"tick_size": {"old": "0.5", "new": "0.10"}},
            "bybit:ETHUSDT": {"tick_size": {"old": "0.01", "new": "0.05"}},
        },
        "unchanged": 3,
        "skipped": [],
    }
    doc = _catalog_file()
    assert doc["source"] == f"mm instruments refresh --venue bybit ({venues.url})"
    # only what differs from the shipped catalog is kept
    assert [e["symbol"] for e in doc["instruments"]] == ["BTCUSD", "ETHUSDT", "NEWUSD", "NEWUSDT"]
    new_inverse = known_instrument("bybit", "NEWUSD")
    assert new_inverse == InstrumentSpec(
        "bybit", "NEWUSD", Decimal("0.001"), Decimal(1), quote_currency="USD",
        kind="inverse", contract_size=Decimal(1), settle_currency="NEW",
    )  # fmt: skip
    assert known_instrument("bybit", "BTCUSD").tick_size == Decimal("0.10")
    assert known_instrument("bybit", "SOONUSDT") is None  # not trading yet

    # the same reply again: nothing new, the file is not rewritten
    before = user_catalog_path().stat().st_mtime_ns
    again = mm_json("instruments", "refresh", "--venue", "bybit")
    assert (again["added"], again["changed"], again["unchanged"]) == ([], {}, 7)
    assert user_catalog_path().stat().st_mtime_ns == before


def test_text_report_lists_counts_and_changed_fields(venues: FakeVenues) -> None:
    _bybit(venues)
    result = mm("instruments", "refresh", "--venue", "bybit")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"bybit: 7 instruments fetched: 2 added, 2 changed, 3 unchanged -> {user_catalog_path()}",
        "  changed bybit:BTCUSD: tick_size 0.5 -> 0.10",
        "  changed bybit:ETHUSDT: tick_size 0.01 -> 0.05",
    ]


def test_binance_usdm_and_coinm_contract_sizes(venues: FakeVenues) -> None:
    venues.usdm = [
        binance_symbol("BTCUSDT", "0.10", "0.001", "100"),  # as shipped
        binance_symbol("FOOUSDT", "0.00010", "1", "5", base="FOO"),
        binance_symbol("BTCUSDC", "0.1", "0.001", "5", quote="USDC", margin="USDC"),
        binance_symbol("OLDUSDT", "0.001", "1", "5", status="SETTLING"),
    ]
    venues.coinm = [
        binance_symbol("BTCUSD_PERP", "0.1", "1", None, quote="USD", margin="BTC",
                       contract_size=100),  # as shipped
        binance_symbol("NEWUSD_PERP", "0.001", "1", None, base="NEW", quote="USD", margin="NEW",
                       contract_size=10),
        binance_symbol("BTCUSD_250328", "0.1", "1", None, quote="USD", margin="BTC",
                       contract_size=100),
        binance_symbol("ETHUSD_PERP", "0.01", "1", None, quote="USD", margin="ETH",
                       contract_size=10, status="PENDING_TRADING"),
    ]  # fmt: skip
    usdm = mm_json("instruments", "refresh", "--venue", "binance-usdm")
    assert (usdm["added"], usdm["changed"], usdm["unchanged"]) == (
        ["binance-usdm:BTCUSDC", "binance-usdm:FOOUSDT"],
        {},
        1,
    )
    coinm = mm_json("instruments", "refresh", "--venue", "binance-coinm")
    assert (coinm["added"], coinm["changed"], coinm["unchanged"]) == (
        ["binance-coinm:BTCUSD_250328", "binance-coinm:NEWUSD_PERP"],
        {},
        1,
    )
    assert [r[1] for r in venues.requests] == ["/fapi/v1/exchangeInfo", "/dapi/v1/exchangeInfo"]
    foo = known_instrument("binance-usdm", "FOOUSDT")
    assert foo == InstrumentSpec(
        "binance-usdm", "FOOUSDT", Decimal("0.0001"), Decimal(1), Decimal(5)
    )
    usdc = known_instrument("binance-usdm", "BTCUSDC")
    assert (usdc.quote_currency, usdc.settle_currency, usdc.min_notional) == ("USDC", "USDC", 5)
    new = known_instrument("binance-coinm", "NEWUSD_PERP")
    assert (new.kind, new.contract_size, new.settle_currency, new.quote_currency) == (
        "inverse",
        Decimal(10),
        "NEW",
        "USD",
    )
    assert known_instrument("binance-coinm", "BTCUSD_250328").contract_size == 100
    assert known_instrument("binance-usdm", "OLDUSDT") is None


def test_hyperliquid_ticks_derive_from_size_decimals(venues: FakeVenues) -> None:
    venues.hl_universe = [
        hl_asset("BTC", 5),  # as shipped: tick 0.1, lot 0.00001
        hl_asset("SOL", 2),  # 6 - 2 = 4 price decimals: the shipped 0.001 tick is coarser
        hl_asset("kPEPE", 0),
        hl_asset("NEW", 3),
        hl_asset("MATIC", 1, isDelisted=True),
        hl_asset("ODD", 7),
        {"szDecimals": 2, "maxLeverage": 3},
    ]
    report = mm_json("instruments", "refresh", "--venue", "hyperliquid")
    assert venues.requests == [("POST", "/info", {}, {"type": "meta"})]
    assert report["added"] == ["hyperliquid:NEW"]
    assert report["changed"] == {
        "hyperliquid:SOL": {"tick_size": {"old": "0.001", "new": "0.0001"}}
    }
    assert report["unchanged"] == 2
    assert report["skipped"] == [
        {"symbol": "ODD", "reason": "meta szDecimals 7 for ODD is not a whole number from 0 to 6"},
        {"symbol": "?", "reason": 'entry without a symbol: {"szDecimals": 2, "maxLeverage": 3}'},
    ]
    new = known_instrument("hyperliquid", "NEW")
    assert new == InstrumentSpec(
        "hyperliquid", "NEW", Decimal("0.001"), Decimal("0.001"), Decimal(10),
        price_sig_figs=5, quote_currency="USDC",
    )  # fmt: skip
    assert new.round_price("12.34567", 1) == 12_345  # 5 significant figures: 12.345
    assert known_instrument("hyperliquid", "MATIC") is None


def test_symbols_limit_the_refresh(venues: FakeVenues) -> None:
    _bybit(venues)
    report = mm_json("instruments", "refresh", "--venue", "bybit", "--symbols", "newusdt,BTCUSD")
    assert report["added"] == ["bybit:NEWUSDT"] and report["fetched"] == 2
    assert list(report["changed"]) == ["bybit:BTCUSD"] and report["unchanged"] == 0
    assert known_instrument("bybit", "NEWUSD") is None


def test_a_refreshed_symbol_imports_with_no_flags_and_overrides_still_win(
    venues: FakeVenues, tmp_path: Path
) -> None:
    _bybit(venues)
    capture = bybit_book_file(tmp_path / "new.data", ("NEWUSDT", "2.31", "2.32"))
    with pytest.raises(Exception, match="unknown instrument bybit:NEWUSDT"):
        import_file(capture, tmp_path / "before", progress=False)
    assert mm("instruments", "refresh", "--venue", "bybit").exit_code == 0
    lake = tmp_path / "lake"
    report = import_file(capture, lake, progress=False)
    assert report.rows["book_deltas bybit:NEWUSDT"]["written"] == 2
    assert read_instrument(lake, "bybit", "NEWUSDT") == known_instrument("bybit", "NEWUSDT")

    other = tmp_path / "override"
    overrides = SpecOverrides(Decimal("0.005"), Decimal("0.01"), Decimal(1))
    import_file(capture, other, overrides=overrides, progress=False)
    assert read_instrument(other, "bybit", "NEWUSDT").contract_terms() == (
        Decimal("0.005"),
        Decimal("0.01"),
        "linear",
        Decimal(1),
    )


# ---- errors --------------------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unknown_venue_and_venue_without_endpoint(
    venues: FakeVenues, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert error_line(mm("instruments", "refresh", "--venue", "kraken")) == (
        "mm instruments refresh: error: unknown venue 'kraken' "
        "(use one of bybit, binance-usdm, binance-coinm, hyperliquid)"
    )
    monkeypatch.delitem(instrument_sources.FETCHERS, "binance-coinm")
    assert error_line(mm("instruments", "refresh", "--venue", "binance-coinm")) == (
        "mm instruments refresh: error: venue binance-coinm has no instruments endpoint mm can "
        "read (add its instruments with `mm instruments add binance-coinm:SYMBOL "
        "--tick-size ... --lot-size ...`)"
    )
    assert venues.requests == [] and not user_catalog_path().exists()


def test_unreachable_endpoint_names_the_url(monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    monkeypatch.setenv("MM_BINANCE_FAPI_URL", url)
    line = error_line(mm("instruments", "refresh", "--venue", "binance-usdm"))
    assert line.startswith(
        f"mm instruments refresh: error: cannot reach {url}/fapi/v1/exchangeInfo: "
    )
    assert "Connection refused" in line
    assert line.endswith("(check the network; `mm instruments refresh` needs to be online)")
    assert not user_catalog_path().exists()


@pytest.mark.parametrize(
    ("venue", "path", "status", "body", "error"),
    [
        ("binance-usdm", "/fapi/v1/exchangeInfo", 500, b"oops",
         "{url}/fapi/v1/exchangeInfo answered HTTP 500 Internal Server Error (try again later)"),
        ("binance-usdm", "/fapi/v1/exchangeInfo", 200, b"<html>maintenance</html>",
         "malformed response from {url}/fapi/v1/exchangeInfo: not JSON "
         "(the venue's API may have changed)"),
        ("binance-coinm", "/dapi/v1/exchangeInfo", 200, b'{"code": -1121, "msg": "Invalid"}',
         "malformed response from {url}/dapi/v1/exchangeInfo: no 'symbols' list "
         "(the venue's API may have changed)"),
        ("hyperliquid", "/info", 200, b'{"universe": {"BTC": 5}}',
         "malformed response from {url}/info: no 'universe' list (the venue's API may have changed)"),
        ("bybit", "/v5/market/instruments-info", 200,
         b'{"retCode": 10006, "retMsg": "Too many visits!", "result": {}}',
         "{url}/v5/market/instruments-info?category=linear&limit=1000 answered retCode 10006: "
         "Too many visits!"),
        ("bybit", "/v5/market/instruments-info", 200,
         b'{"retCode": 0, "retMsg": "OK", "result": {"list": "none"}}',
         "malformed response from {url}/v5/market/instruments-info?category=linear&limit=1000: "
         "'result.list' is not a list of instruments (the venue's API may have changed)"),
        ("bybit", "/v5/market/instruments-info", 200,
         b'{"retCode": 0, "retMsg": "OK", "result": {"list": [], "nextPageCursor": "abc"}}',
         "malformed response from {url}/v5/market/instruments-info?category=linear&limit=1000"
         "&cursor=abc: nextPageCursor 'abc' repeats (the venue's API may have changed)"),
        ("hyperliquid", "/info", 200, b'{"universe": []}',
         "{url} listed no trading instruments for hyperliquid (check MM_HYPERLIQUID_API_URL)"),
    ],
)  # fmt: skip
def test_bad_replies_are_one_line_errors_and_write_nothing(
    venues: FakeVenues, venue: str, path: str, status: int, body: bytes, error: str
) -> None:
    venues.raw[path] = (status, body)
    line = error_line(mm("instruments", "refresh", "--venue", venue))
    assert line == "mm instruments refresh: error: " + error.format(url=venues.url)
    assert not user_catalog_path().exists()


def test_requested_symbols_must_exist_and_be_usable(venues: FakeVenues) -> None:
    _bybit(venues)
    assert error_line(
        mm("instruments", "refresh", "--venue", "bybit", "--symbols", "BTCUSDT,NOPEUSDT")
    ) == (
        "mm instruments refresh: error: bybit has no trading instrument NOPEUSDT (check the "
        "symbol; without --symbols, refresh takes every trading instrument)"
    )
    venues.hl_universe = [hl_asset("BTC", 5), hl_asset("ODD", 9)]
    assert error_line(
        mm("instruments", "refresh", "--venue", "hyperliquid", "--symbols", "odd")
    ) == (
        "mm instruments refresh: error: hyperliquid lists ODD, but its entry is unusable: "
        "meta szDecimals 9 for ODD is not a whole number from 0 to 6"
    )
    assert user_catalog(user_catalog_path()).specs == {}
