"""Kafka and recorder settings from the environment (``MM_KAFKA_*``, ``MM_RECORD_*``) or .env.

Kept apart from ``core.config.Settings`` so the bus can be configured without touching
the strategy settings (which leave these two prefixes to this module when reading .env).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from core.errors import ConfigError


class KafkaSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="MM_KAFKA_", env_file=".env", extra="ignore", validate_default=True
    )

    bootstrap: str = "127.0.0.1:9092"
    topic_prefix: str = Field("mm", pattern=r"^[A-Za-z0-9._-]+$")
    partitions: int = Field(6, ge=1, le=2048, description="partitions of topics mm creates")
    replication: int = Field(1, ge=1)
    connect_timeout_s: float = Field(12.0, gt=0, description="retry budget to reach the broker")
    request_timeout_ms: int = Field(10_000, ge=1000)
    compression: Literal["none", "gzip"] = "none"
    stall_timeout_s: float = Field(60.0, gt=0, description="bounded reads: no progress -> error")
    # kafka -> lake
    topics: Annotated[list[str], NoDecode] = Field(default_factory=list)
    until_end: bool = False  # stop at the end offsets seen at start (backfills, tests)
    flush_rows: int = Field(200_000, ge=1)
    flush_s: float = Field(5.0, gt=0)

    @field_validator("topics", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return [t.strip() for t in value.split(",") if t.strip()]
        return value


class RecordSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="MM_RECORD_", env_file=".env", extra="ignore", validate_default=True
    )

    depth: int = Field(50, ge=1, description="Bybit orderbook depth: 1, 50, 200 or 500")
    trades: bool = True
    max_messages: int | None = Field(None, ge=1, description="stop after this many messages")
    seconds: float | None = Field(None, gt=0, description="stop after this long")


def _load(cls: type[BaseSettings], prefix: str) -> BaseSettings:
    try:
        return cls()
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err.get("loc", ()))
        raise ConfigError(
            f"invalid setting {prefix}{key.upper()}: {err.get('msg', 'invalid')}",
            "fix it in the environment or .env",
        ) from None


def load_kafka_settings() -> KafkaSettings:
    return _load(KafkaSettings, "MM_KAFKA_")  # type: ignore[return-value]


def load_record_settings() -> RecordSettings:
    return _load(RecordSettings, "MM_RECORD_")  # type: ignore[return-value]
