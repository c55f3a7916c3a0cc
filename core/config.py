"""Configuration from environment, ``.env`` and a YAML file, with per-symbol overrides.

Priority (highest first): explicit arguments, environment (``MM_*``), ``.env``, the YAML
file named by ``--config`` or ``MM_CONFIG``, defaults. Nested keys use ``__`` in the
environment: ``MM_PARAMS__QUOTE__BASE_SPREAD_BPS=3``, and per-symbol overrides
``MM_OVERRIDES__BTCUSDT__QUOTE__BASE_SPREAD_BPS=3``. Every validation error names the
bad key and the environment variable that sets it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from core.errors import ConfigError
from core.params import StrategyParams, deep_merge

ENV_PREFIX = "MM_"


class Settings(BaseSettings):
    """Process-wide settings for every command and flow."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=".env",
        env_file_encoding="utf-8",
        env_nested_delimiter="__",
        extra="forbid",
        validate_default=True,
        allow_inf_nan=False,
    )

    mode: Literal["live", "paper"] = Field(
        "live", description="flows.live_mm: live orders or paper (sim)"
    )
    network: Literal["testnet", "mainnet"] = "testnet"
    venue: str = "bybit"
    symbols: Annotated[list[str], NoDecode] = Field(default_factory=list)
    lake: Path = Path("data/lake")
    start: str | None = None
    end: str | None = None
    out: Path | None = None
    params_file: Path | None = None
    log_format: Literal["text", "json"] = "text"
    run_id: str | None = Field(
        None,
        description="backtest: the run's id (default: one all processes of a cluster agree on)",
    )
    engine: Literal["compiled", "python"] = Field(
        "compiled", description="the trader: the compiled loop, or the plain-Python reference"
    )
    workers: int = Field(1, ge=1)
    depth: int = Field(50, ge=1, description="live order book depth (Bybit: 1, 50, 200, 500)")
    flush_interval_s: float = Field(
        10.0, gt=0, description="live/paper: write run tables this often"
    )
    params: StrategyParams = StrategyParams()
    overrides: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (
            init_settings,
            env_settings,
            _without_foreign(dotenv_settings),
            YamlConfigSettingsSource(settings_cls),
            file_secret_settings,
        )

    @field_validator("symbols", mode="before")
    @classmethod
    def _split_symbols(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [s for s in (p.strip() for p in value.split(",")) if s]
        if isinstance(value, list):
            return [str(s).strip().upper() for s in value]
        return value

    @field_validator("overrides", mode="before")
    @classmethod
    def _upper_symbols(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {str(k).upper(): v for k, v in value.items()}
        return value

    @model_validator(mode="after")
    def _validate_overrides(self) -> Settings:
        for symbol in self.overrides:
            self.params_for(symbol)  # raises with the offending key
        return self

    def params_for(self, symbol: str) -> StrategyParams:
        """Defaults merged with the symbol's overrides, validated."""
        override = self.overrides.get(symbol.upper())
        if not override:
            return self.params
        merged = deep_merge(self.params.model_dump(), _lower_keys(override))
        try:
            return StrategyParams.model_validate(merged)
        except ValidationError as exc:
            raise ConfigError(
                _describe(exc, prefix=("overrides", symbol.upper())),
                "fix the per-symbol override",
            ) from None


# MM_* groups owned by other settings (connectors.kafka.config, orchestration.schedules): a .env may
# hold them, and they must not be reported as unknown keys of this one.
FOREIGN_PREFIXES = ("kafka_", "record_", "schedule")  # schedule_*, schedules_file


def _without_foreign(source: PydanticBaseSettingsSource) -> PydanticBaseSettingsSource:
    class Filtered(PydanticBaseSettingsSource):
        def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
            return source.get_field_value(field, field_name)

        def __call__(self) -> dict[str, Any]:
            return {
                k: v
                for k, v in source().items()
                if not k.lower().removeprefix(ENV_PREFIX.lower()).startswith(FOREIGN_PREFIXES)
            }

    return Filtered(source.settings_cls)


def _lower_keys(d: dict[str, Any]) -> dict[str, Any]:
    return {str(k).lower(): _lower_keys(v) if isinstance(v, dict) else v for k, v in d.items()}


def _describe(exc: ValidationError, prefix: tuple[str, ...] = ()) -> str:
    parts = []
    for err in exc.errors()[:3]:
        loc = tuple(str(p) for p in (*prefix, *err.get("loc", ())))
        if loc and loc[0].upper().startswith(ENV_PREFIX):  # unknown .env key: "mm_venux"
            loc = (loc[0][len(ENV_PREFIX) :].lower(), *loc[1:])
        key = ".".join(loc) or "<root>"
        env = ENV_PREFIX + "__".join(p.upper() for p in loc)
        got = err.get("input")
        shown = "" if isinstance(got, dict) or got is None else f", got {got!r}"
        parts.append(f"{key}: {err.get('msg', 'invalid')}{shown} [env {env}]")
    more = len(exc.errors()) - 3
    return "invalid config: " + "; ".join(parts) + (f"; and {more} more" if more > 0 else "")


def load_settings(
    config_file: str | Path | None = None,
    env_file: str | Path | None = ".env",
    **values: Any,
) -> Settings:
    """Load settings; raises ConfigError naming the bad key on any invalid value."""
    path = config_file or os.environ.get(ENV_PREFIX + "CONFIG")
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"config file {path} not found", "check --config / MM_CONFIG")
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" line {mark.line + 1}" if mark is not None else ""
            raise ConfigError(f"config file {path}{where} is not valid YAML") from None
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError(f"config file {path} must be a mapping of keys to values")
    cls = type(
        "Settings",
        (Settings,),
        {
            "model_config": SettingsConfigDict(
                **{**Settings.model_config, "yaml_file": path, "env_file": env_file}
            )
        },
    )
    try:
        return cls(**values)
    except ValidationError as exc:
        raise ConfigError(
            _describe(exc), "fix the value in the environment, .env or the YAML file"
        ) from None
    except ConfigError:
        raise


def load_params_file(path: str | Path) -> StrategyParams:
    """A parameter file: either a bare params mapping or a full config with ``params:``."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"params file {path} not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError:
        raise ConfigError(f"params file {path} is not valid YAML") from None
    if not isinstance(data, dict):
        raise ConfigError(f"params file {path} must be a mapping")
    if "params" in data:
        data = data["params"]
    try:
        return StrategyParams.model_validate(_lower_keys(data))
    except ValidationError as exc:
        raise ConfigError(_describe(exc, prefix=("params",)), f"fix {path}") from None
