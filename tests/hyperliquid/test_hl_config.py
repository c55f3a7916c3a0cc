"""Hyperliquid settings: testnet by default, mainnet only when asked (loudly), secrets masked."""

from __future__ import annotations

import logging

import pytest

from connectors.hyperliquid.config import load_hyperliquid_config
from core.errors import ConfigError


def test_testnet_is_the_default_and_ws_follows_the_sdk_rule() -> None:
    cfg = load_hyperliquid_config()
    assert cfg.network == "testnet"
    assert cfg.rest_url == "https://api.hyperliquid-testnet.xyz"
    assert cfg.ws_url == "wss://api.hyperliquid-testnet.xyz/ws"
    assert load_hyperliquid_config(api_url="http://127.0.0.1:9/").ws_url == "ws://127.0.0.1:9/ws"
    assert cfg.ping_interval_s < 60 and cfg.meta_refresh_s == 3600


def test_mainnet_needs_mm_network_and_warns(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("MM_NETWORK", "mainnet")
    with caplog.at_level(logging.WARNING):
        cfg = load_hyperliquid_config()
    assert cfg.ws_url == "wss://api.hyperliquid.xyz/ws"
    assert any("MAINNET" in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (
            "https://api.hyperliquid.xyz",
            "invalid Hyperliquid HYPERLIQUID_API_URL https://api.hyperliquid.xyz is a "
            "Hyperliquid mainnet endpoint but MM_NETWORK is testnet "
            "(fix MM_NETWORK / HYPERLIQUID_* in the environment)",
        ),
        (
            "ftp://x",
            "invalid Hyperliquid HYPERLIQUID_API_URL 'ftp://x' is not an http(s) URL "
            "(fix MM_NETWORK / HYPERLIQUID_* in the environment)",
        ),
        (
            "https://api.hyperliquid-testnet.xyz/info",
            "invalid Hyperliquid HYPERLIQUID_API_URL "
            "'https://api.hyperliquid-testnet.xyz/info' must be a bare base URL (no path) "
            "(fix MM_NETWORK / HYPERLIQUID_* in the environment)",
        ),
    ],
)
def test_bad_urls_are_one_line_errors(
    monkeypatch: pytest.MonkeyPatch, url: str, message: str
) -> None:
    monkeypatch.setenv("HYPERLIQUID_API_URL", url)
    with pytest.raises(ConfigError) as err:
        load_hyperliquid_config()
    assert str(err.value) == message and "\n" not in message


def test_bad_value_names_the_setting() -> None:
    with pytest.raises(ConfigError, match="ping_interval_s"):
        load_hyperliquid_config(ping_interval_s=60)  # the server's idle limit


def test_keys_are_secret_masked_and_required_with_a_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError) as err:
        load_hyperliquid_config().require_keys()
    assert str(err.value) == (
        "HYPERLIQUID_SECRET_KEY and HYPERLIQUID_ACCOUNT_ADDRESS are not set "
        "(set them, or use paper mode: MM_MODE=paper)"
    )
    monkeypatch.setenv("HYPERLIQUID_SECRET_KEY", "0xsecret-Abc123")
    monkeypatch.setenv("HYPERLIQUID_ACCOUNT_ADDRESS", "0xaddr-Xyz789")
    cfg = load_hyperliquid_config()
    key, addr = cfg.require_keys()
    assert (key.get_secret_value(), addr.get_secret_value()) == ("0xsecret-Abc123", "0xaddr-Xyz789")
    for text in (repr(cfg), str(cfg), repr(cfg.model_dump())):
        assert "0xsecret-Abc123" not in text and "0xaddr-Xyz789" not in text
