"""Bybit V5 request signing (HMAC-SHA256, hex).

REST: ``sign(secret, timestamp + api_key + recv_window + payload)`` where the payload is
the query string of a GET or the JSON body of a POST, sent as ``X-BAPI-SIGN`` beside
``X-BAPI-API-KEY``, ``X-BAPI-TIMESTAMP`` and ``X-BAPI-RECV-WINDOW``. Private websocket:
``{"op": "auth", "args": [api_key, expires_ms, sign(secret, "GET/realtime" + expires)]}``.

Signatures are secrets too (replayable within the window): never log them.
"""

from __future__ import annotations

import hashlib
import hmac

from pydantic import SecretStr


def _raw(value: SecretStr | str) -> str:
    return value.get_secret_value() if isinstance(value, SecretStr) else value


def sign(secret: SecretStr | str, payload: str) -> str:
    return hmac.new(_raw(secret).encode(), payload.encode(), hashlib.sha256).hexdigest()


def rest_signature(
    secret: SecretStr | str,
    api_key: SecretStr | str,
    timestamp_ms: int,
    recv_window_ms: int,
    payload: str,
) -> str:
    return sign(secret, f"{timestamp_ms}{_raw(api_key)}{recv_window_ms}{payload}")


def rest_headers(
    secret: SecretStr | str,
    api_key: SecretStr | str,
    timestamp_ms: int,
    recv_window_ms: int,
    payload: str,
) -> dict[str, str]:
    return {
        "X-BAPI-API-KEY": _raw(api_key),
        "X-BAPI-SIGN": rest_signature(secret, api_key, timestamp_ms, recv_window_ms, payload),
        "X-BAPI-SIGN-TYPE": "2",
        "X-BAPI-TIMESTAMP": str(timestamp_ms),
        "X-BAPI-RECV-WINDOW": str(recv_window_ms),
    }


def ws_auth_message(api_key: SecretStr | str, secret: SecretStr | str, expires_ms: int) -> dict:
    return {
        "op": "auth",
        "args": [_raw(api_key), expires_ms, sign(secret, f"GET/realtime{expires_ms}")],
    }
