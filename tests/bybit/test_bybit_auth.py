"""Signing known-answer tests: values computed independently with
``printf '%s' PAYLOAD | openssl dgst -sha256 -hmac SECRET``."""

from __future__ import annotations

from pybit._http_manager import generate_signature
from pydantic import SecretStr

from connectors.bybit.auth import rest_headers, rest_signature, ws_auth_message

KEY = "XXXXXXXXXX"
SECRET = "YYYYYYYYYYYYYYYYYYYY"
BODY = (
    '{"category":"linear","symbol":"XRPUSDT","side":"Buy","orderType":"Limit","qty":"10",'
    '"price":"1.9500","timeInForce":"PostOnly","orderLinkId":"mmk2x9-1"}'
)


def test_rest_post_signature_known_answer() -> None:
    # openssl over "1672211928338" + KEY + "5000" + BODY
    expected = "991f26aec8cf9d31e28369aa269cc46b26a2b7538faa57fbfad930f3bd742b2c"
    assert rest_signature(SecretStr(SECRET), KEY, 1672211928338, 5000, BODY) == expected
    # pybit (Bybit's own SDK) agrees on the same string
    assert generate_signature(False, SECRET, f"1672211928338{KEY}5000{BODY}") == expected


def test_rest_get_signature_signs_the_query_string() -> None:
    query = "category=linear&limit=50&symbol=XRPUSDT"
    expected = "5a439569699e36b4a9f39361b0c52b0397916d1644ebb95cdbb73a9352220af9"
    headers = rest_headers(SECRET, SecretStr(KEY), 1672219525810, 5000, query)
    assert headers == {
        "X-BAPI-API-KEY": KEY,
        "X-BAPI-SIGN": expected,
        "X-BAPI-SIGN-TYPE": "2",
        "X-BAPI-TIMESTAMP": "1672219525810",
        "X-BAPI-RECV-WINDOW": "5000",
    }


def test_ws_auth_signs_get_realtime_and_expiry() -> None:
    # openssl over "GET/realtime1662350400000" (the expiry from Bybit's docs example)
    msg = ws_auth_message(SecretStr(KEY), SecretStr(SECRET), 1662350400000)
    assert msg == {
        "op": "auth",
        "args": [
            KEY,
            1662350400000,
            "62e958da7f2a175a92af485dcdf00e6098f8872b225de42f4d8a92dd1985e3ef",
        ],
    }
