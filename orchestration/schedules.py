"""The scheduled Prefect flows, their cron strings, and the deployments `mm orchestrate
serve` hands to ``prefect.serve``.

Flows are named by import path and imported only when a deployment is built, so a flow
whose module is missing (not merged yet, not installed) is a one-line error naming it,
and the others still load for ``--flow``. Schedules (UTC) come from, lowest first: the
defaults below, a YAML file (``--config`` or MM_SCHEDULES_FILE)::

    record: {cron: "0 0 * * *", parameters: {symbols: [BTCUSDT, XRPUSDT]}}
    reoptimize: {enabled: false}

and MM_SCHEDULE_<FLOW>, e.g. MM_SCHEDULE_DAILY_REPORT="15 0 * * *". A flow that takes a
``lake`` parameter gets MM_LAKE unless the file sets one. Each deployment allows one run
at a time: two recorders would store every message twice, two reoptimizations would
race to apply their parameters.
"""

from __future__ import annotations

import importlib
import inspect
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from core.errors import ConfigError

ENV_FILE = "MM_SCHEDULES_FILE"
ENV_CRON = "MM_SCHEDULE_"
TIMEZONE = "UTC"
CRON_HINT = "five fields: minute hour day-of-month month day-of-week, e.g. '0 0 * * *'"

# name -> (import path "module:attribute", default cron in UTC)
FLOWS: dict[str, tuple[str, str]] = {
    "record": ("orchestration.record:record_flow", "0 0 * * *"),  # recorders end at 00:00
    "daily_report": ("orchestration.reports:daily_report_flow", "15 0 * * *"),
    "reoptimize": ("orchestration.reoptimize:reoptimize", "30 0 * * *"),  # after the roll
}


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    cron: str | None = None
    enabled: bool = True
    parameters: dict[str, Any] = {}


@dataclass
class FlowSchedule:
    name: str
    path: str
    cron: str
    enabled: bool = True
    parameters: dict[str, Any] = field(default_factory=dict)


def _unknown(name: str, where: str) -> ConfigError:
    return ConfigError(f"unknown flow {name!r} in {where}", f"use one of {', '.join(FLOWS)}")


def load_schedules(
    config: Path | None = None, env: dict[str, str] | None = None
) -> dict[str, FlowSchedule]:
    """Every registered flow's schedule, validated: a bad cron names its flow."""
    env = dict(os.environ) if env is None else env
    out = {n: FlowSchedule(n, path, cron) for n, (path, cron) in FLOWS.items()}
    path = config or (Path(env[ENV_FILE]) if env.get(ENV_FILE) else None)
    if path is not None:
        for name, entry in _read_file(path).items():
            s = out[name]
            s.cron = entry.cron or s.cron
            s.enabled = entry.enabled
            s.parameters = dict(entry.parameters)
    for key, value in env.items():
        if key.startswith(ENV_CRON):
            name = key[len(ENV_CRON) :].lower()
            if name not in out:
                raise _unknown(name, f"environment variable {key}")
            out[name].cron = value
    for s in out.values():
        check_cron(s.name, s.cron)
    return out


def _read_file(path: Path) -> dict[str, _Entry]:
    if not path.is_file():
        raise ConfigError(f"schedules file {path} not found", f"check --config / {ENV_FILE}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError:
        raise ConfigError(f"schedules file {path} is not valid YAML") from None
    if not isinstance(data, dict):
        raise ConfigError(f"schedules file {path} must map flow names to settings")
    out = {}
    for name, entry in data.items():
        if name not in FLOWS:
            raise _unknown(str(name), f"schedules file {path}")
        try:
            out[name] = _Entry.model_validate(entry or {})
        except ValidationError as exc:
            err = exc.errors()[0]
            key = ".".join([str(name), *(str(p) for p in err.get("loc", ()))])
            raise ConfigError(
                f"schedules file {path}: {key}: {err.get('msg', 'invalid')}",
                "keys per flow: cron, enabled, parameters",
            ) from None
    return out


def check_cron(name: str, cron: str) -> None:
    from prefect.client.schemas.schedules import CronSchedule

    try:
        CronSchedule(cron=cron, timezone=TIMEZONE)
    except ValidationError:
        raise ConfigError(f"flow {name}: invalid cron string {cron!r}", CRON_HINT) from None


def import_flow(s: FlowSchedule) -> Any:
    """The Prefect flow object behind ``s.path`` (imported now)."""
    module, _, attr = s.path.partition(":")
    try:
        obj = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(
            f"flow {s.name}: cannot import {s.path} ({exc})",
            f"install or merge it, or leave it out: --flow NAME, or '{s.name}: "
            "{enabled: false}' in the schedules file",
        ) from None
    if not hasattr(obj, "to_deployment"):
        raise ConfigError(f"flow {s.name}: {s.path} is not a Prefect flow")
    return obj


def select(schedules: dict[str, FlowSchedule], only: list[str] | None) -> list[FlowSchedule]:
    """The flows to serve: ``only`` (any of them, enabled or not) or every enabled one."""
    if only:
        for name in only:
            if name not in schedules:
                raise _unknown(name, "--flow")
        return [schedules[n] for n in only]
    chosen = [s for s in schedules.values() if s.enabled]
    if not chosen:
        raise ConfigError("no flow to serve: every flow is disabled", "enable one, or --flow")
    return chosen


def build_deployments(flows: list[FlowSchedule], lake: Path | None = None) -> list[Any]:
    """One RunnerDeployment per flow: cron schedule (UTC), parameters checked against the
    flow's signature, one run at a time."""
    from prefect.client.schemas.schedules import CronSchedule

    out = []
    for s in flows:
        fl = import_flow(s)
        params = dict(s.parameters)
        if lake is not None and "lake" in inspect.signature(fl.fn).parameters:
            params.setdefault("lake", str(lake))
        try:
            fl.validate_parameters(params)
        except Exception as exc:  # Prefect's ParameterTypeError / SignatureMismatchError
            raise ConfigError(
                f"flow {s.name}: bad parameters: {str(exc).splitlines()[0]}",
                "fix them under parameters: in the schedules file",
            ) from None
        out.append(
            fl.to_deployment(
                name=s.name,
                schedules=[CronSchedule(cron=s.cron, timezone=TIMEZONE)],
                parameters=params,
                concurrency_limit=1,
                tags=["mm"],
            )
        )
    return out
