"""Notifier settings, from the environment only (no file, nothing in the repo).

* ``MM_DISCORD_WEBHOOK_URL``: a Discord webhook (the URL itself is the credential).
* ``MM_TELEGRAM_BOT_TOKEN`` + ``MM_TELEGRAM_CHAT_ID``: a Telegram bot and the chat it
  writes to; ``MM_TELEGRAM_API_URL`` overrides ``https://api.telegram.org`` (tests).
* ``MM_NOTIFY_*``: batching, de-duplication and bounds (see docs/notifications.md).

The webhook URL and the bot token are ``SecretStr`` and registered with
``core.log.protect``: masked in every repr and every log line.
"""

from __future__ import annotations

import os
from typing import Any

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.errors import ConfigError
from core.log import protect

ENV_VARS = ("MM_DISCORD_WEBHOOK_URL", "MM_TELEGRAM_BOT_TOKEN", "MM_TELEGRAM_CHAT_ID")


class NotifyConfig(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MM_", env_file=None, extra="ignore")

    discord_webhook_url: SecretStr | None = None
    telegram_bot_token: SecretStr | None = None
    telegram_chat_id: str | None = None
    telegram_api_url: str = "https://api.telegram.org"
    notify_fill_batch_s: float = Field(10.0, gt=0, description="fills are sent once per this")
    notify_dedup_s: float = Field(300.0, ge=0, description="the same text once per this")
    notify_storm_count: int = Field(5, ge=2, description="reconnects that make a storm...")
    notify_storm_window_s: float = Field(60.0, gt=0, description="...within this window")
    notify_recorder_silence_s: float = Field(60.0, gt=0, description="no recorded message")
    notify_queue_size: int = Field(1000, ge=1, description="per destination; full: dropped")
    notify_timeout_s: float = Field(5.0, gt=0, description="one HTTP request, at most")
    notify_tick_s: float = Field(1.0, gt=0, description="timer resolution (batches, silence)")
    notify_close_wait_s: float = Field(1.0, ge=0, description="delivery wait at shutdown")

    @property
    def enabled(self) -> bool:
        return bool(self.discord_webhook_url or self.telegram_bot_token)


def notifier_env_set() -> bool:
    return any(os.environ.get(k) for k in ENV_VARS)


def load_notify_config(**overrides: Any) -> NotifyConfig:
    """Read the environment; ConfigError (never echoing a value) on a bad one."""
    try:
        cfg = NotifyConfig(**overrides)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err.get("loc", ())) or "notify"
        raise ConfigError(
            f"invalid notifier setting MM_{loc.upper()}: {err.get('msg', 'invalid')}",
            "fix it in the environment",
        ) from None
    protect(cfg.discord_webhook_url, cfg.telegram_bot_token)
    if cfg.discord_webhook_url is not None:  # the token part alone is the secret too
        protect(cfg.discord_webhook_url.get_secret_value().rstrip("/").rsplit("/", 1)[-1])
    if cfg.telegram_bot_token and not cfg.telegram_chat_id:
        raise ConfigError(
            "MM_TELEGRAM_BOT_TOKEN is set but MM_TELEGRAM_CHAT_ID is not",
            "set the chat id the bot writes to",
        )
    if cfg.telegram_chat_id and not cfg.telegram_bot_token:
        raise ConfigError(
            "MM_TELEGRAM_CHAT_ID is set but MM_TELEGRAM_BOT_TOKEN is not",
            "set the bot token",
        )
    return cfg
