"""A local HTTP server on 127.0.0.1 answering the venues' public instrument endpoints.

Responses have the venues' documented shapes (Bybit V5 instruments-info with cursor
pagination, Binance USD-M / COIN-M exchangeInfo, Hyperliquid info "meta"); tests edit
``FakeVenues.bybit_pages`` and friends, or ``raw`` to answer a path with bytes of their own.
"""

from __future__ import annotations

import copy
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse


def bybit_linear(symbol: str, tick: str, step: str, notional: str = "5", **kw: Any) -> dict:
    base = symbol.removesuffix("USDT")
    return {
        "symbol": symbol,
        "contractType": "LinearPerpetual",
        "status": kw.get("status", "Trading"),
        "baseCoin": base,
        "quoteCoin": "USDT",
        "launchTime": "1584230400000",
        "deliveryTime": "0",
        "deliveryFeeRate": "",
        "priceScale": "2",
        "leverageFilter": {"minLeverage": "1", "maxLeverage": "100.00", "leverageStep": "0.01"},
        "priceFilter": {"minPrice": tick, "maxPrice": "1999999.80", "tickSize": tick},
        "lotSizeFilter": {
            "maxOrderQty": "1190.000",
            "minOrderQty": step,
            "qtyStep": step,
            "postOnlyMaxOrderQty": "1190.000",
            "maxMktOrderQty": "119.000",
            "minNotionalValue": notional,
        },
        "unifiedMarginTrade": True,
        "fundingInterval": 480,
        "settleCoin": "USDT",
        "copyTrading": "both",
        "upperFundingRate": "0.005",
        "lowerFundingRate": "-0.005",
        "isPreListing": False,
        "preListingInfo": None,
        "riskParameters": {"priceLimitRatioX": "0.01", "priceLimitRatioY": "0.02"},
        "displayName": "",
    }


def bybit_inverse(symbol: str, tick: str) -> dict:
    item = bybit_linear(symbol, tick, "1", "")
    coin = symbol.removesuffix("USD")
    item.update(contractType="InversePerpetual", baseCoin=coin, quoteCoin="USD", settleCoin=coin)
    return item


def binance_symbol(symbol: str, tick: str, step: str, notional: str | None, **kw: Any) -> dict:
    filters: list[dict[str, Any]] = [
        {"filterType": "PRICE_FILTER", "minPrice": "556.80", "maxPrice": "4529764", "tickSize": tick},
        {"filterType": "LOT_SIZE", "minQty": step, "maxQty": "1000", "stepSize": step},
        {"filterType": "MARKET_LOT_SIZE", "minQty": step, "maxQty": "120", "stepSize": step},
        {"filterType": "MAX_NUM_ORDERS", "limit": 200},
        {"filterType": "MAX_NUM_ALGO_ORDERS", "limit": 10},
        {"filterType": "PERCENT_PRICE", "multiplierUp": "1.0500", "multiplierDown": "0.9500",
         "multiplierDecimal": "4"},
    ]  # fmt: skip
    item: dict[str, Any] = {
        "symbol": symbol,
        "pair": kw.get("pair", symbol),
        "contractType": "PERPETUAL",
        "deliveryDate": 4133404800000,
        "onboardDate": 1569398400000,
        "maintMarginPercent": "2.5000",
        "requiredMarginPercent": "5.0000",
        "baseAsset": kw.get("base", "BTC"),
        "quoteAsset": kw.get("quote", "USDT"),
        "marginAsset": kw.get("margin", "USDT"),
        "pricePrecision": 2,
        "quantityPrecision": 3,
        "baseAssetPrecision": 8,
        "quotePrecision": 8,
        "underlyingType": "COIN",
        "underlyingSubType": ["PoW"],
        "triggerProtect": "0.0500",
        "filters": filters,
        "orderTypes": ["LIMIT", "MARKET", "STOP", "STOP_MARKET", "TAKE_PROFIT"],
        "timeInForce": ["GTC", "IOC", "FOK", "GTX", "GTD"],
        "liquidationFee": "0.012500",
        "marketTakeBound": "0.05",
    }
    if "contract_size" in kw:  # COIN-M
        item["contractStatus"] = kw.get("status", "TRADING")
        item["contractSize"] = kw["contract_size"]
        item["equalQtyPrecision"] = 4
    else:
        item["status"] = kw.get("status", "TRADING")
        item["settlePlan"] = 0
    if notional is not None:
        filters.append({"filterType": "MIN_NOTIONAL", "notional": notional})
    return item


def exchange_info(symbols: list[dict]) -> dict:
    return {
        "timezone": "UTC",
        "serverTime": 1733011200000,
        "futuresType": "U_MARGINED",
        "rateLimits": [
            {
                "rateLimitType": "REQUEST_WEIGHT",
                "interval": "MINUTE",
                "intervalNum": 1,
                "limit": 2400,
            },
        ],
        "exchangeFilters": [],
        "assets": [{"asset": "USDT", "marginAvailable": True, "autoAssetExchange": "-10000"}],
        "symbols": symbols,
    }


def hl_asset(name: str, sz: int, **kw: Any) -> dict:
    return {"szDecimals": sz, "name": name, "maxLeverage": 40, "marginTableId": 56, **kw}


class FakeVenues:
    """Serves the four endpoints; ``requests`` records (method, path, query, body)."""

    def __init__(self) -> None:
        self.bybit_pages: dict[str, list[list[dict]]] = {"linear": [[]], "inverse": [[]]}
        self.usdm: list[dict] = []
        self.coinm: list[dict] = []
        self.hl_universe: list[dict] = []
        self.raw: dict[str, tuple[int, bytes]] = {}  # path -> (status, body) override
        self.requests: list[tuple[str, str, dict[str, list[str]], Any]] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> FakeVenues:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _bybit(self, query: dict[str, list[str]]) -> dict:
        category = query.get("category", [""])[0]
        pages = self.bybit_pages.get(category)
        if pages is None:
            return {"retCode": 10001, "retMsg": "Illegal category", "result": {},
                    "retExtInfo": {}, "time": 1733011200000}  # fmt: skip
        cursor = query.get("cursor", [""])[0]
        index = int(cursor.split("=")[1]) if cursor else 0
        nxt = f"cursor={index + 1}" if index + 1 < len(pages) else ""
        return {
            "retCode": 0,
            "retMsg": "OK",
            "result": {"category": category, "list": copy.deepcopy(pages[index]),
                       "nextPageCursor": nxt},
            "retExtInfo": {},
            "time": 1733011200000,
        }  # fmt: skip

    def answer(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> Any:
        if method == "GET" and path == "/v5/market/instruments-info":
            return self._bybit(query)
        if method == "GET" and path == "/fapi/v1/exchangeInfo":
            return exchange_info(copy.deepcopy(self.usdm))
        if method == "GET" and path == "/dapi/v1/exchangeInfo":
            return {**exchange_info(copy.deepcopy(self.coinm)), "futuresType": "COIN_MARGINED"}
        if method == "POST" and path == "/info" and body == {"type": "meta"}:
            return {"universe": copy.deepcopy(self.hl_universe), "marginTables": [
                [56, {"description": "", "marginTiers": [{"lowerBound": "0.0", "maxLeverage": 40}]}]
            ]}  # fmt: skip
        return None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self, method: str) -> None:
                url = urlparse(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                query = parse_qs(url.query)
                fake.requests.append((method, url.path, query, body))
                if url.path in fake.raw:
                    status, data = fake.raw[url.path]
                else:
                    doc = fake.answer(method, url.path, query, body)
                    status, data = (200, json.dumps(doc).encode()) if doc else (404, b"")
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._serve("GET")

            def do_POST(self) -> None:
                self._serve("POST")

            def log_message(self, *args: object) -> None:
                pass

        return Handler
