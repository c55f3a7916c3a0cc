"""Hyperliquid connection settings: testnet unless told otherwise, keys from the environment only.

* ``MM_NETWORK=mainnet`` is the only way to reach real money; it logs a loud warning,
  and a mainnet URL under ``MM_NETWORK=testnet`` is refused (a typo must not trade).
* ``HYPERLIQUID_API_URL`` overrides the REST base (testnet, mainnet or a local fake);
  the websocket is ``{base}/ws`` with http->ws / https->wss, as the official SDK derives it.
* ``HYPERLIQUID_SECRET_KEY`` (the API wallet's private key) and
  ``HYPERLIQUID_ACCOUNT_ADDRESS`` (the account it trades for) are read from the process
  environment and held as ``SecretStr``: masked in every repr and every log line.
"""

from __future__ import annotations

import logging
from typing import Any, Literal
from urllib.parse import urlparse

from pydantic import AliasChoices, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.errors import ConfigError
from core.log import event, get_logger, protect

log = get_logger(__name__)

Network = Literal["testnet", "mainnet"]

DEFAULT_URLS: dict[str, str] = {
    "testnet": "https://api.hyperliquid-testnet.xyz",
    "mainnet": "https://api.hyperliquid.xyz",
}
_MAINNET_DOMAIN = "hyperliquid.xyz"  # testnet lives on hyperliquid-testnet.xyz

MISSING_KEYS = "HYPERLIQUID_SECRET_KEY and HYPERLIQUID_ACCOUNT_ADDRESS are not set"
MISSING_KEYS_HINT = "set them, or use paper mode: MM_MODE=paper"


def is_mainnet_host(url: str) -> bool:
    host = (urlparse(url).hostname or "").lower()
    return host == _MAINNET_DOMAIN or host.endswith("." + _MAINNET_DOMAIN)


def ws_url_for(api_url: str) -> str:
    """``https://h`` -> ``wss://h/ws``, ``http://h`` -> ``ws://h/ws`` (the SDK's rule)."""
    return "ws" + api_url[len("http") :] + "/ws"


class HyperliquidConfig(BaseSettings):
    """Everything the Hyperliquid connector needs to reach the venue."""

    model_config = SettingsConfigDict(
        env_prefix="HYPERLIQUID_",
        env_file=None,
        extra="ignore",
        populate_by_name=True,
        validate_default=True,
    )

    network: Network = Field(
        "testnet",
        validation_alias=AliasChoices("MM_NETWORK", "HYPERLIQUID_NETWORK", "network"),
    )
    api_url: str | None = None
    secret_key: SecretStr | None = None
    account_address: SecretStr | None = None
    http_timeout_s: float = Field(10.0, gt=0)
    ping_interval_s: float = Field(
        20.0, gt=0, lt=60, description="the server drops a link idle for 60 s"
    )
    pong_timeout_s: float = Field(10.0, gt=0, description="no pong within this: dead link")
    stale_after_s: float = Field(20.0, gt=0, description="no book message this long: resync")
    frozen_after_s: float = Field(
        60.0, gt=0, description="snapshots keep coming but the book has not changed: resync"
    )
    resync_timeout_s: float = Field(
        5.0, gt=0, description="a resubscribe answered by no snapshot this long: reconnect"
    )
    ws_max_message_bytes: int = Field(4 * 1024 * 1024, ge=64 * 1024)
    reconnect_initial_s: float = Field(0.5, gt=0)
    reconnect_max_s: float = Field(30.0, gt=0)
    stable_after_s: float = Field(5.0, ge=0, description="a session this long resets backoff")
    meta_refresh_s: float = Field(3600.0, gt=0)
    dead_mans_switch_s: float = Field(
        10.0,
        ge=6,
        description="live: scheduleCancel this far ahead (the venue wants >= 5 s when the "
        "request arrives: 1 s is left for the way there)",
    )
    heartbeat_s: float = Field(3.0, gt=0, description="live: move the deadline this often")

    @model_validator(mode="after")
    def _resolve(self) -> HyperliquidConfig:
        url = (self.api_url or DEFAULT_URLS[self.network]).rstrip("/")
        parsed = urlparse(url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ValueError(f"HYPERLIQUID_API_URL {url!r} is not an http(s) URL")
        if parsed.path or parsed.query:
            raise ValueError(f"HYPERLIQUID_API_URL {url!r} must be a bare base URL (no path)")
        if self.network == "testnet" and is_mainnet_host(url):
            raise ValueError(
                f"HYPERLIQUID_API_URL {url} is a Hyperliquid mainnet endpoint "
                "but MM_NETWORK is testnet"
            )
        self.api_url = url
        return self

    @property
    def rest_url(self) -> str:
        assert self.api_url is not None
        return self.api_url

    @property
    def ws_url(self) -> str:
        return ws_url_for(self.rest_url)

    @property
    def has_keys(self) -> bool:
        return bool(
            self.secret_key
            and self.account_address
            and self.secret_key.get_secret_value()
            and self.account_address.get_secret_value()
        )

    def require_keys(self) -> tuple[SecretStr, SecretStr]:
        """The secret key and account address, or a one-line ConfigError saying how to proceed."""
        if not self.has_keys:
            raise ConfigError(MISSING_KEYS, MISSING_KEYS_HINT)
        assert self.secret_key is not None and self.account_address is not None
        return self.secret_key, self.account_address


def load_hyperliquid_config(**overrides: Any) -> HyperliquidConfig:
    """Read the environment (plus explicit overrides); ConfigError on any bad value."""
    try:
        cfg = HyperliquidConfig(**overrides)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err.get("loc", ()))
        msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        raise ConfigError(
            f"invalid Hyperliquid setting {loc}: {msg}" if loc else f"invalid Hyperliquid {msg}",
            "fix MM_NETWORK / HYPERLIQUID_* in the environment",
        ) from None
    protect(cfg.secret_key, cfg.account_address)
    if cfg.network == "mainnet":
        event(
            log,
            logging.WARNING,
            "hyperliquid_mainnet",
            message="MAINNET: orders trade real money on Hyperliquid",
            api_url=cfg.rest_url,
        )
    return cfg
