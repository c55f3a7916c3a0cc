"""Bybit connection settings: testnet unless told otherwise, keys from the environment only.

* ``MM_NETWORK=mainnet`` is the only way to reach real money; it logs a loud warning,
  and a mainnet URL under ``MM_NETWORK=testnet`` is refused (a typo must not trade).
* ``BYBIT_REST_URL``, ``BYBIT_WS_PUBLIC_URL``, ``BYBIT_WS_PRIVATE_URL`` override the
  endpoints (testnet, demo, mainnet or a local fake). The public URL is the full URL of
  the category's stream (``.../v5/public/linear``).
* ``BYBIT_API_KEY`` / ``BYBIT_API_SECRET`` are read from the process environment (no
  ``.env`` file, nothing in the repo) and held as ``SecretStr``: masked in every repr.
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
Category = Literal["linear", "spot"]

DEFAULT_URLS: dict[str, dict[str, str]] = {
    "testnet": {
        "rest": "https://api-testnet.bybit.com",
        "ws_public": "wss://stream-testnet.bybit.com/v5/public/{category}",
        "ws_private": "wss://stream-testnet.bybit.com/v5/private",
    },
    "mainnet": {
        "rest": "https://api.bybit.com",
        "ws_public": "wss://stream.bybit.com/v5/public/{category}",
        "ws_private": "wss://stream.bybit.com/v5/private",
    },
}

# Registrable domains of Bybit's production sites; a host under one of them that is not
# a testnet or demo host trades real money.
_BYBIT_DOMAINS = (
    "bybit.com",
    "bytick.com",
    "bybit.kz",
    "bybit-tr.com",
    "bybit.nl",
    "bybit.eu",
    "bybit.com.hk",
    "bybitgeorgia.ge",
)

MISSING_KEYS = "BYBIT_API_KEY and BYBIT_API_SECRET are not set"
MISSING_KEYS_HINT = "set them, or use paper mode: MM_MODE=paper"


def is_mainnet_host(url: str) -> bool:
    host = (urlparse(url).hostname or "").lower()
    if not any(host == d or host.endswith("." + d) for d in _BYBIT_DOMAINS):
        return False
    first = host.split(".", 1)[0]
    return "testnet" not in first and "demo" not in first


class BybitConfig(BaseSettings):
    """Everything the Bybit connector needs to reach the venue."""

    model_config = SettingsConfigDict(
        env_prefix="BYBIT_",
        env_file=None,
        extra="ignore",
        populate_by_name=True,
        validate_default=True,
    )

    network: Network = Field(
        "testnet", validation_alias=AliasChoices("MM_NETWORK", "BYBIT_NETWORK", "network")
    )
    category: Category = "linear"
    rest_url: str | None = None
    ws_public_url: str | None = None
    ws_private_url: str | None = None
    api_key: SecretStr | None = None
    api_secret: SecretStr | None = None
    recv_window_ms: int = Field(5000, ge=1000, le=60000)
    http_timeout_s: float = Field(10.0, gt=0)
    dcp_window_s: int = Field(10, ge=3, le=300, description="Disconnected-Cancel-All window")
    ping_interval_s: float = Field(20.0, gt=0, description="Bybit asks for a ping every 20 s")
    pong_timeout_s: float = Field(10.0, gt=0, description="no pong within this: dead link")
    stale_after_s: float = Field(20.0, gt=0, description="no book message this long: resync")
    resync_timeout_s: float = Field(
        5.0, gt=0, description="a resubscribe answered by no snapshot this long: reconnect"
    )
    ws_max_message_bytes: int = Field(
        4 * 1024 * 1024,
        ge=64 * 1024,
        description="a bigger websocket frame closes the link (1009) and reconnects; Bybit's "
        "largest (a 500-level book snapshot) is ~50 KB",
    )
    reconnect_initial_s: float = Field(0.5, gt=0)
    reconnect_max_s: float = Field(30.0, gt=0)
    stable_after_s: float = Field(5.0, ge=0, description="a session this long resets backoff")
    instruments_refresh_s: float = Field(3600.0, gt=0)

    @model_validator(mode="after")
    def _resolve(self) -> BybitConfig:
        urls = DEFAULT_URLS[self.network]
        if not self.rest_url:
            self.rest_url = urls["rest"]
        if not self.ws_public_url:
            self.ws_public_url = urls["ws_public"].format(category=self.category)
        if not self.ws_private_url:
            self.ws_private_url = urls["ws_private"]
        self.rest_url = self.rest_url.rstrip("/")
        if self.network == "testnet":
            for env, url in (
                ("BYBIT_REST_URL", self.rest_url),
                ("BYBIT_WS_PUBLIC_URL", self.ws_public_url),
                ("BYBIT_WS_PRIVATE_URL", self.ws_private_url),
            ):
                if is_mainnet_host(url):
                    raise ValueError(
                        f"{env} {url} is a Bybit mainnet endpoint but MM_NETWORK is testnet"
                    )
        return self

    @property
    def has_keys(self) -> bool:
        return bool(
            self.api_key
            and self.api_secret
            and self.api_key.get_secret_value()
            and self.api_secret.get_secret_value()
        )

    def require_keys(self) -> tuple[SecretStr, SecretStr]:
        """The API key and secret, or a one-line ConfigError saying how to proceed."""
        if not self.has_keys:
            raise ConfigError(MISSING_KEYS, MISSING_KEYS_HINT)
        assert self.api_key is not None and self.api_secret is not None
        return self.api_key, self.api_secret


def load_bybit_config(**overrides: Any) -> BybitConfig:
    """Read the environment (plus explicit overrides); ConfigError on any bad value."""
    try:
        cfg = BybitConfig(**overrides)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err.get("loc", ())) or "bybit"
        msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        raise ConfigError(
            f"invalid Bybit setting {loc}: {msg}",
            "fix MM_NETWORK / BYBIT_* in the environment",
        ) from None
    protect(cfg.api_key, cfg.api_secret)
    if cfg.network == "mainnet":
        event(
            log,
            logging.WARNING,
            "bybit_mainnet",
            message="MAINNET: orders trade real money on Bybit",
            rest_url=cfg.rest_url,
        )
    return cfg
