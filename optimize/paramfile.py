"""Params files the optimizer writes: the baseline file with the searched values set.

Keys the search did not touch stay as the baseline file had them (comments aside), and
the result loads through ``core.config.load_params_file`` like any hand-written file, so
``mm backtest --params``, paper and live accept it unchanged. Written atomically.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import yaml

from core.config import load_params_file
from core.errors import ConfigError
from core.params import StrategyParams, deep_merge
from optimize.space import nest


def read_raw(path: Path | None) -> dict[str, Any]:
    """The baseline file's mapping as written (empty: the defaults)."""
    if path is None:
        return {}
    load_params_file(path)  # one clear error for a missing or invalid file
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return data


def with_values(raw: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """``raw`` with every searched path set (inside ``params:`` if the file has one)."""
    searched: dict[str, Any] = {}
    for path, value in values.items():
        searched = deep_merge(searched, nest(path, value))
    if "params" in raw:
        return {**raw, "params": deep_merge(raw["params"] or {}, searched)}
    return deep_merge(raw, searched)


def write_params_file(path: Path, data: dict[str, Any], header: str = "") -> StrategyParams:
    """Write ``data`` as YAML, atomically, after checking it loads; returns the params."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        text = "".join(f"# {line}\n" for line in header.splitlines())
        text += yaml.safe_dump(data, sort_keys=False)
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            params = load_params_file(tmp)
        except ConfigError as exc:
            raise ConfigError(f"refusing to write {path}: {exc.message}", exc.hint) from None
        os.replace(tmp, path)
        return params
    finally:
        tmp.unlink(missing_ok=True)
