"""The search space: parameter paths of ``core.params.StrategyParams`` with ranges or choices.

A space file is YAML::

    params:
      quote.base_spread_bps: {low: 0.5, high: 10}          # float range
      quote.vol_multiplier: {low: 0.5, high: 4, step: 0.5} # stepped (grid-able)
      orders.replace_threshold_ticks: {low: 0, high: 4}    # int field -> int range
      quote.use_regimes: {choices: [true, false]}

Every path is checked against the schema and every bound against the field's own
constraints before a trial runs, so a typo fails in one line instead of after an hour.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from core.errors import ConfigError
from core.params import StrategyParams, deep_merge

DEFAULT_SPACE = Path(__file__).with_name("default_space.yaml")


class SpaceError(ConfigError):
    """A search space that names an unknown parameter or an impossible range."""


@dataclass(frozen=True)
class Dimension:
    """One searched parameter: a numeric range (``low``..``high``, optional ``step``,
    ``log``) or a list of ``choices``."""

    path: str
    kind: str  # "int", "float" or "choice"
    low: float | None = None
    high: float | None = None
    step: float | None = None
    log: bool = False
    choices: tuple[Any, ...] = ()

    def grid(self) -> list[Any]:
        """The values a grid search tries (needs choices, an int range, or a step)."""
        if self.kind == "choice":
            return list(self.choices)
        assert self.low is not None and self.high is not None
        if self.kind == "int":
            step = int(self.step or 1)
            return list(range(int(self.low), int(self.high) + 1, step))
        if not self.step:
            raise SpaceError(
                f"{self.path}: a float range has no grid",
                "give it a step, or use --sampler tpe / random",
            )
        n = math.floor((self.high - self.low) / self.step + 1e-9)
        return [round(self.low + i * self.step, 12) for i in range(n + 1)]

    def to_dict(self) -> dict[str, Any]:
        if self.kind == "choice":
            return {"choices": list(self.choices)}
        out: dict[str, Any] = {"low": self.low, "high": self.high}
        if self.step:
            out["step"] = self.step
        if self.log:
            out["log"] = True
        return out


@dataclass(frozen=True)
class Space:
    dims: tuple[Dimension, ...]
    source: str

    @property
    def paths(self) -> list[str]:
        return [d.path for d in self.dims]

    def grid_size(self) -> int:
        size = 1
        for d in self.dims:
            size *= len(d.grid())
        return size

    def to_dict(self) -> dict[str, Any]:
        return {d.path: d.to_dict() for d in self.dims}


def _field_type(path: str) -> Any:
    """The annotation of the leaf field a dotted path names (raises SpaceError if none)."""
    model: type[BaseModel] = StrategyParams
    parts = path.split(".")
    for i, part in enumerate(parts):
        fields = model.model_fields
        if part not in fields:
            where = ".".join(parts[:i]) or "the parameters"
            known = ", ".join(sorted(fields))
            raise SpaceError(
                f"unknown parameter path {path!r}: {where} has no {part!r}",
                f"use one of: {known}",
            )
        ann = fields[part].annotation
        if i < len(parts) - 1:
            if not (isinstance(ann, type) and issubclass(ann, BaseModel)):
                raise SpaceError(
                    f"unknown parameter path {path!r}: {part!r} is a value, not a group"
                )
            model = ann
        elif isinstance(ann, type) and issubclass(ann, BaseModel):
            raise SpaceError(
                f"parameter path {path!r} names a group, not a value",
                f"name one of its fields, e.g. {path}.{next(iter(ann.model_fields))}",
            )
    return ann


def nest(path: str, value: Any) -> dict[str, Any]:
    """``"quote.levels", 2`` -> ``{"quote": {"levels": 2}}``."""
    out: dict[str, Any] = value
    for part in reversed(path.split(".")):
        out = {part: out}
    return out


def apply_values(base: StrategyParams, values: dict[str, Any]) -> StrategyParams:
    """``base`` with the searched values set (validated like a params file)."""
    merged = base.model_dump()
    for path, value in values.items():
        merged = deep_merge(merged, nest(path, value))
    return StrategyParams.model_validate(merged)


def _check_value(path: str, value: Any, what: str) -> None:
    try:
        apply_values(StrategyParams(), {path: value})
    except ValidationError as exc:
        msg = exc.errors()[0].get("msg", "invalid")
        raise SpaceError(
            f"{path}: {what} {value!r} is not a valid value ({msg})", "fix the space file"
        ) from None


def _dimension(path: str, spec: Any) -> Dimension:
    ann = _field_type(path)
    if not isinstance(spec, dict):
        raise SpaceError(
            f"{path}: expected a mapping with low/high or choices, got {spec!r}",
            "fix the space file",
        )
    unknown = set(spec) - {"low", "high", "step", "log", "choices"}
    if unknown:
        raise SpaceError(
            f"{path}: unknown keys {sorted(unknown)}", "use low, high, step, log or choices"
        )
    if "choices" in spec:
        choices = spec["choices"]
        if not isinstance(choices, list) or not choices:
            raise SpaceError(f"{path}: choices must be a non-empty list", "fix the space file")
        for c in choices:
            _check_value(path, c, "choice")
        return Dimension(path, "choice", choices=tuple(choices))
    if "low" not in spec or "high" not in spec:
        raise SpaceError(f"{path}: a range needs both low and high", "or give choices")
    kind = "int" if ann is int else "float" if ann in (float, float | None) else None
    if kind is None:
        raise SpaceError(
            f"{path}: a {getattr(ann, '__name__', ann)} field cannot take a range", "give choices"
        )
    low, high = spec["low"], spec["high"]
    for name, v in (("low", low), ("high", high)):
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            raise SpaceError(f"{path}: {name} must be a number, got {v!r}", "fix the space file")
    if kind == "int" and (int(low) != low or int(high) != high):
        raise SpaceError(
            f"{path}: an integer field needs whole-number bounds", "fix the space file"
        )
    if low >= high:
        raise SpaceError(f"{path}: low {low} is not below high {high}", "fix the space file")
    _check_value(path, int(low) if kind == "int" else float(low), "low")
    _check_value(path, int(high) if kind == "int" else float(high), "high")
    step = spec.get("step")
    if step is not None and (
        isinstance(step, bool) or not isinstance(step, int | float) or step <= 0
    ):
        raise SpaceError(
            f"{path}: step must be a positive number, got {step!r}", "fix the space file"
        )
    log = bool(spec.get("log", False))
    if log and (low <= 0 or step is not None):
        raise SpaceError(f"{path}: a log range needs low > 0 and no step", "fix the space file")
    return Dimension(path, kind, float(low), float(high), float(step) if step else None, log)


def load_space(path: Path | None = None) -> Space:
    """The space file (default: the one shipped with mmflow), validated against the schema."""
    path = path or DEFAULT_SPACE
    if not path.is_file():
        raise SpaceError(f"space file {path} not found", "pass --space FILE")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError:
        raise SpaceError(f"space file {path} is not valid YAML") from None
    if not isinstance(data, dict) or not isinstance(data.get("params"), dict) or not data["params"]:
        raise SpaceError(
            f"space file {path} has no params mapping", "write params: {PATH: {low: .., high: ..}}"
        )
    return Space(tuple(_dimension(str(p), s) for p, s in data["params"].items()), str(path))


def suggest(trial: Any, space: Space) -> dict[str, Any]:
    """The trial's values for every dimension (optuna's suggest API)."""
    out: dict[str, Any] = {}
    for d in space.dims:
        if d.kind == "choice":
            out[d.path] = trial.suggest_categorical(d.path, list(d.choices))
        elif d.kind == "int":
            assert d.low is not None and d.high is not None
            out[d.path] = trial.suggest_int(
                d.path, int(d.low), int(d.high), step=int(d.step or 1), log=d.log
            )
        else:
            assert d.low is not None and d.high is not None
            out[d.path] = trial.suggest_float(d.path, d.low, d.high, step=d.step, log=d.log)
    return out
