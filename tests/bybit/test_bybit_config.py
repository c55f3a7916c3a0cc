"""Bybit settings: testnet by default, mainnet only when asked (loudly), secrets masked."""

from __future__ import annotations

import logging

import pytest

from connectors.bybit.config import BybitConfig, load_bybit_config
from core.errors import ConfigError


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for k in ("MM_NETWORK", "BYBIT_REST_URL", "BYBIT_WS_PUBLIC_URL", "BYBIT_WS_PRIVATE_URL",
              "BYBIT_API_KEY", "BYBIT_API_SECRET", "BYBIT_CATEGORY"):  # fmt: skip
        monkeypatch.delenv(k, raising=False)


def test_testnet_is_the_default() -> None:
    cfg = load_bybit_config()
    assert cfg.network == "testnet"
    assert cfg.rest_url == "https://api-testnet.bybit.com"
    assert cfg.ws_public_url == "wss://stream-testnet.bybit.com/v5/public/linear"
    assert cfg.ws_private_url == "wss://stream-testnet.bybit.com/v5/private"


def test_mainnet_needs_mm_network_and_warns(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("MM_NETWORK", "mainnet")
    with caplog.at_level(logging.WARNING):
        cfg = load_bybit_config()
    assert cfg.rest_url == "https://api.bybit.com"
    assert any("MAINNET" in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records)


def test_mainnet_url_under_testnet_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BYBIT_REST_URL", "https://api.bybit.com")
    with pytest.raises(
        ConfigError, match=r"BYBIT_REST_URL .* mainnet endpoint but MM_NETWORK is testnet"
    ):
        load_bybit_config()


def test_endpoints_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BYBIT_REST_URL", "https://api-demo.bybit.com/")
    monkeypatch.setenv("BYBIT_WS_PUBLIC_URL", "ws://127.0.0.1:9/v5/public/linear")
    monkeypatch.setenv("BYBIT_WS_PRIVATE_URL", "ws://127.0.0.1:9/v5/private")
    cfg = load_bybit_config()
    assert cfg.rest_url == "https://api-demo.bybit.com"  # demo is not mainnet money
    assert cfg.ws_public_url == "ws://127.0.0.1:9/v5/public/linear"
    assert cfg.ws_private_url == "ws://127.0.0.1:9/v5/private"


def test_keys_are_secret_and_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BYBIT_API_KEY", "key-Abc123")
    monkeypatch.setenv("BYBIT_API_SECRET", "secret-Xyz789")
    cfg = load_bybit_config()
    key, secret = cfg.require_keys()
    assert (key.get_secret_value(), secret.get_secret_value()) == ("key-Abc123", "secret-Xyz789")
    for text in (repr(cfg), str(cfg), repr(cfg.model_dump())):
        assert "key-Abc123" not in text and "secret-Xyz789" not in text


def test_missing_keys_is_one_line_config_error() -> None:
    cfg = load_bybit_config()
    with pytest.raises(ConfigError) as err:
        cfg.require_keys()
    assert str(err.value) == (
        "BYBIT_API_KEY and BYBIT_API_SECRET are not set "
        "(set them, or use paper mode: MM_MODE=paper)"
    )


def test_bad_value_names_the_setting() -> None:
    with pytest.raises(ConfigError, match="dcp_window_s"):
        load_bybit_config(dcp_window_s=1)
    assert BybitConfig(category="spot").ws_public_url.endswith("/v5/public/spot")  # type: ignore[union-attr]
