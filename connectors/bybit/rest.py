"""Bybit V5 REST through pybit's HTTP session, pointed at a configurable base URL.

pybit builds every request as ``f"{session.endpoint}{path}"`` at call time, so setting
``endpoint`` after construction reaches testnet, demo, mainnet or a local fake; with
``return_response_headers=True`` it hands back the rate-limit headers. Its own retry
loop (which sleeps inside the call on 10002/10006) is switched off: retries, back-off
and rate budgets are decided by the gateway from connectors/bybit/errors.py, with an
injectable clock. Non-zero retCodes come back as a RestResponse (pybit raises them as
InvalidRequestError, which carries the code and the headers), not as exceptions.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import requests
from pybit.exceptions import FailedRequestError, InvalidRequestError
from pybit.unified_trading import HTTP

from connectors.bybit.config import BybitConfig
from connectors.bybit.errors import BybitTransportError, ErrorAction, action_for_http
from core.log import event, get_logger, protect

log = get_logger(__name__)

# path -> (pybit method, rate-limit group)
ENDPOINTS: dict[str, tuple[str, str]] = {
    "/v5/order/create": ("place_order", "create"),
    "/v5/order/create-batch": ("place_batch_order", "create"),
    "/v5/order/amend": ("amend_order", "amend"),
    "/v5/order/amend-batch": ("amend_batch_order", "amend"),
    "/v5/order/cancel": ("cancel_order", "cancel"),
    "/v5/order/cancel-batch": ("cancel_batch_order", "cancel"),
    "/v5/order/cancel-all": ("cancel_all_orders", "cancel_all"),
    "/v5/order/realtime": ("get_open_orders", "query"),
    "/v5/position/list": ("get_positions", "query"),
    "/v5/order/disconnected-cancel-all": ("set_dcp", "dcp"),
    "/v5/market/instruments-info": ("get_instruments_info", "public"),
    "/v5/market/time": ("get_server_time", "public"),
    "/v5/market/tickers": ("get_tickers", "public"),
}


def _int_header(headers: Mapping[str, str], name: str) -> int | None:
    value = headers.get(name)
    if value is None:
        return None
    try:
        return int(str(value).strip())
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class RestResponse:
    ret_code: int
    ret_msg: str
    result: dict[str, Any]
    ext: dict[str, Any]  # retExtInfo (per-item codes of batch requests)
    time_ms: int
    headers: Mapping[str, str] = field(repr=False)

    @property
    def ok(self) -> bool:
        return self.ret_code == 0

    @property
    def limit(self) -> int | None:
        return _int_header(self.headers, "X-Bapi-Limit")

    @property
    def remaining(self) -> int | None:
        return _int_header(self.headers, "X-Bapi-Limit-Status")

    @property
    def reset_ms(self) -> int | None:
        return _int_header(self.headers, "X-Bapi-Limit-Reset-Timestamp")


class BybitRest:
    """One pybit session; ``call(path, params)`` -> RestResponse, for every retCode."""

    def __init__(self, config: BybitConfig, session: HTTP | None = None) -> None:
        self.config = config
        key = config.api_key.get_secret_value() if config.api_key else None
        secret = config.api_secret.get_secret_value() if config.api_secret else None
        protect(config.api_key, config.api_secret)
        self._http = session or HTTP(
            testnet=config.network == "testnet",
            api_key=key,
            api_secret=secret,
            recv_window=config.recv_window_ms,
            timeout=config.http_timeout_s,
            max_retries=1,
            retry_codes={0},  # never matched (0 is success): pybit must not sleep/retry
            return_response_headers=True,
            log_requests=False,
            logging_level=logging.WARNING,
        )
        assert config.rest_url is not None
        self._http.endpoint = config.rest_url
        self.calls = 0

    def __repr__(self) -> str:  # pybit's dataclass repr would print the secret
        return f"BybitRest(url={self.config.rest_url!r}, network={self.config.network!r})"

    @property
    def recv_window_ms(self) -> int:
        return int(self._http.recv_window)

    @recv_window_ms.setter
    def recv_window_ms(self, value: int) -> None:
        self._http.recv_window = int(value)

    @staticmethod
    def group(path: str) -> str:
        return ENDPOINTS[path][1]

    def call(self, path: str, params: dict[str, Any] | None = None) -> RestResponse:
        method_name, _group = ENDPOINTS[path]
        method = getattr(self._http, method_name)
        self.calls += 1
        try:
            body, _elapsed, headers = method(**dict(params or {}))
        except InvalidRequestError as exc:
            return RestResponse(
                int(exc.status_code), str(exc.message), {}, {}, 0, exc.resp_headers or {}
            )
        except FailedRequestError as exc:
            status = int(exc.status_code) if exc.status_code is not None else None
            action = action_for_http(status) if status is not None else ErrorAction.RETRY
            event(log, logging.WARNING, "rest_http_error", venue="bybit", path=path,
                  status=status, action=action.value)  # fmt: skip
            raise BybitTransportError(
                f"{path}: HTTP {status} {exc.message}", status, action
            ) from None
        except (requests.exceptions.RequestException, OSError) as exc:
            event(log, logging.WARNING, "rest_network_error", venue="bybit", path=path,
                  error=type(exc).__name__)  # fmt: skip
            raise BybitTransportError(
                f"{path}: network error {type(exc).__name__}", None, ErrorAction.RETRY
            ) from None
        return RestResponse(
            int(body.get("retCode", 0)),
            str(body.get("retMsg", "")),
            body.get("result") or {},
            body.get("retExtInfo") or {},
            int(body.get("time") or 0),
            headers or {},
        )
