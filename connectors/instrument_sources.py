"""Fetch every venue's tradable instruments from its public endpoint, for the catalog.

One function per venue returns specs parsed by that venue's ``instruments`` module.
Base URLs come from the environment so a test (or a proxy) can stand in for the venue:

* ``MM_BYBIT_REST_URL`` (default https://api.bybit.com; mainnet, because the catalog
  describes real instruments: ``BYBIT_REST_URL`` is the trading endpoint, testnet by default)
* ``MM_BINANCE_FAPI_URL`` (https://fapi.binance.com), ``MM_BINANCE_DAPI_URL``
  (https://dapi.binance.com), ``MM_HYPERLIQUID_API_URL`` (https://api.hyperliquid.xyz)

Only instruments that are trading are returned; an entry the parser refuses is skipped
and reported, so one odd listing does not block the rest.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from connectors.binance import instruments as binance
from connectors.bybit import instruments as bybit
from connectors.hyperliquid import instruments as hyperliquid
from core.errors import MMError
from core.instruments import InstrumentSpec

TIMEOUT_S = 20.0
BYBIT_PAGE_LIMIT = 1000
BYBIT_MAX_PAGES = 100  # 100,000 instruments: a cursor that never ends is a broken reply

URLS: dict[str, tuple[str, str]] = {  # venue -> (environment variable, default base URL)
    "bybit": ("MM_BYBIT_REST_URL", "https://api.bybit.com"),
    "binance-usdm": ("MM_BINANCE_FAPI_URL", "https://fapi.binance.com"),
    "binance-coinm": ("MM_BINANCE_DAPI_URL", "https://dapi.binance.com"),
    "hyperliquid": ("MM_HYPERLIQUID_API_URL", "https://api.hyperliquid.xyz"),
}


@dataclass
class Fetched:
    """A venue's instruments: the parsed specs and the entries skipped, with why."""

    specs: list[InstrumentSpec] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)


def base_url(venue: str) -> str:
    env, default = URLS[venue]
    return (os.environ.get(env) or default).rstrip("/")


class MalformedResponse(MMError):
    """The venue answered, but not with the documented shape."""

    def __init__(self, url: str, what: str) -> None:
        super().__init__(
            f"malformed response from {url}: {what}", "the venue's API may have changed"
        )


def http_json(url: str, body: dict[str, Any] | None = None) -> Any:
    """GET (or POST ``body`` as JSON) and decode the JSON reply; one-line errors with the URL."""
    data = None if body is None else json.dumps(body).encode()
    headers = {"Accept": "application/json", "User-Agent": "mmflow-instruments"}
    if data is not None:
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as resp:
            raw = resp.read()
    except urllib.error.HTTPError as exc:
        raise MMError(f"{url} answered HTTP {exc.code} {exc.reason}", "try again later") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise MMError(
            f"cannot reach {url}: {reason}",
            "check the network; `mm instruments refresh` needs to be online",
        ) from None
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise MalformedResponse(url, "not JSON") from None


def _collect(
    fetched: Fetched, items: list[Any], parse: Callable[[dict[str, Any]], InstrumentSpec]
) -> None:
    for item in items:
        name = str(item.get("symbol") or item.get("name") or "")
        if not name:
            fetched.skipped.append(("?", f"entry without a symbol: {json.dumps(item)[:80]}"))
            continue
        try:
            fetched.specs.append(parse(item))
        except MMError as exc:
            fetched.skipped.append((name, str(exc)))


def fetch_bybit() -> Fetched:
    """Linear and inverse categories of ``/v5/market/instruments-info``, every page."""
    fetched = Fetched()
    for category in ("linear", "inverse"):
        cursor = ""
        for _ in range(BYBIT_MAX_PAGES):
            query = {"category": category, "limit": str(BYBIT_PAGE_LIMIT)}
            if cursor:
                query["cursor"] = cursor
            url = f"{base_url('bybit')}/v5/market/instruments-info?{urllib.parse.urlencode(query)}"
            doc = http_json(url)
            if not isinstance(doc, dict) or not isinstance(doc.get("result"), dict):
                raise MalformedResponse(url, "no 'result' object")
            if doc.get("retCode") != 0:
                raise MMError(f"{url} answered retCode {doc.get('retCode')}: {doc.get('retMsg')}")
            items = doc["result"].get("list")
            if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
                raise MalformedResponse(url, "'result.list' is not a list of instruments")
            trading = [i for i in items if i.get("status") == "Trading"]
            _collect(fetched, trading, lambda i, c=category: bybit.spec_from_info(i, c))
            nxt = str(doc["result"].get("nextPageCursor") or "")
            if not nxt:
                break
            if nxt == cursor:
                raise MalformedResponse(url, f"nextPageCursor {nxt!r} repeats")
            cursor = nxt
        else:
            raise MalformedResponse(url, f"more than {BYBIT_MAX_PAGES} pages")
    return fetched


def _binance(venue: str, path: str) -> Fetched:
    url = f"{base_url(venue)}{path}"
    doc = http_json(url)
    symbols = doc.get("symbols") if isinstance(doc, dict) else None
    if not isinstance(symbols, list) or not all(isinstance(s, dict) for s in symbols):
        raise MalformedResponse(url, "no 'symbols' list")
    fetched = Fetched()
    trading = [s for s in symbols if binance.is_trading(s)]
    _collect(fetched, trading, lambda s: binance.spec_from_symbol(s, venue))
    return fetched


def fetch_binance_usdm() -> Fetched:
    return _binance(binance.USDM, "/fapi/v1/exchangeInfo")


def fetch_binance_coinm() -> Fetched:
    return _binance(binance.COINM, "/dapi/v1/exchangeInfo")


def fetch_hyperliquid() -> Fetched:
    url = f"{base_url('hyperliquid')}/info"
    doc = http_json(url, {"type": "meta"})
    universe = doc.get("universe") if isinstance(doc, dict) else None
    if not isinstance(universe, list) or not all(isinstance(a, dict) for a in universe):
        raise MalformedResponse(url, "no 'universe' list")
    fetched = Fetched()
    _collect(fetched, [a for a in universe if not a.get("isDelisted")], hyperliquid.spec_from_asset)
    return fetched


FETCHERS: dict[str, Callable[[], Fetched]] = {
    "bybit": fetch_bybit,
    "binance-usdm": fetch_binance_usdm,
    "binance-coinm": fetch_binance_coinm,
    "hyperliquid": fetch_hyperliquid,
}
