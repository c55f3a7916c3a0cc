"""Hot reload of the live and paper flow's params file (MM_PARAMS_FILE).

The trader's heartbeat (the clock's Tick) polls the file, so a new parameter set is
applied between two messages on the trader's own thread: nothing races the trader. A
file is read only when its size, mtime or inode changed, and acted on only when its
content did. A file that does not parse or validate, or that changes a key only a
restart can change (core.params_live), is refused whole and the running parameters
stay; the watcher tries again at the file's next change. An empty file reads as
half-written: a params file of defaults is never empty.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any, Protocol

import yaml
from pydantic import ValidationError

from core.params import StrategyParams
from core.params_live import param_changes, restart_only


class Refused(Exception):
    """A params file that cannot be applied: the key at fault (or None) and why."""

    def __init__(self, key: str | None, reason: str) -> None:
        super().__init__(f"{key}: {reason}" if key else reason)
        self.key = key
        self.reason = reason


class Swappable(Protocol):
    params: StrategyParams

    def swap_params(self, params: StrategyParams) -> None: ...


def parse_params(data: bytes) -> StrategyParams:
    """A params file's content (a bare params mapping, or a config with ``params:``)."""
    if not data.strip():
        raise Refused(None, "the file is empty (half-written?)")
    try:
        loaded = yaml.safe_load(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise Refused(None, "the file is not UTF-8 text") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise Refused(None, f"not valid YAML{where} (half-written?)") from None
    if not isinstance(loaded, dict):
        raise Refused(None, "the file must be a mapping of keys to values")
    if isinstance(loaded.get("params"), dict):
        loaded = loaded["params"]
    try:
        return StrategyParams.model_validate(_lower_keys(loaded))
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err.get("loc", ())) or None
        got = err.get("input")
        shown = "" if isinstance(got, dict) or got is None else f", got {got!r}"
        raise Refused(key, f"{err.get('msg', 'invalid')}{shown}") from None


def _lower_keys(d: dict[str, Any]) -> dict[str, Any]:
    return {str(k).lower(): _lower_keys(v) if isinstance(v, dict) else v for k, v in d.items()}


class ParamsWatcher:
    """Watches one params file for one trader; ``poll`` returns the log records."""

    def __init__(self, path: Path, inst: str) -> None:
        self.path = Path(path)
        self.inst = inst
        self._stat: tuple[int, int, int] | None = None
        self._digest = b""

    def poll(self, trader: Swappable) -> list[dict[str, Any]]:
        try:
            st = os.stat(self.path)
        except OSError as exc:
            if self._stat == (-1, -1, -1):
                return []
            self._stat, self._digest = (-1, -1, -1), b""
            return [self._rejected(None, f"cannot read the file: {exc.strerror}")]
        stat = (st.st_mtime_ns, st.st_size, st.st_ino)
        if stat == self._stat:
            return []
        self._stat = stat
        try:
            data = self.path.read_bytes()
        except OSError as exc:
            self._stat = None  # try again at the next tick
            return [self._rejected(None, f"cannot read the file: {exc.strerror}")]
        digest = hashlib.sha256(data).digest()
        if digest == self._digest:
            return []
        self._digest = digest
        try:
            return self._apply(trader, parse_params(data))
        except Refused as exc:
            return [self._rejected(exc.key, exc.reason)]

    def _apply(self, trader: Swappable, new: StrategyParams) -> list[dict[str, Any]]:
        changes = param_changes(trader.params, new)
        if not changes:
            return []
        for key in changes:
            reason = restart_only(key)
            if reason is not None:
                raise Refused(key, f"changes only at a restart: {reason}")
        trader.swap_params(new)
        return [{"event": "params_reloaded", "inst": self.inst, "file": str(self.path),
                 "changes": changes}]  # fmt: skip

    def _rejected(self, key: str | None, reason: str) -> dict[str, Any]:
        return {"event": "params_rejected", "inst": self.inst, "file": str(self.path),
                "key": key, "reason": reason, "kept": "the running parameters"}  # fmt: skip
