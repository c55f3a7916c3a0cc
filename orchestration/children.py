"""Dataflows as child processes of a Prefect task: started, watched, bounded, reported.

A long-running dataflow (the recorder) runs in a process of its own, so a crash in it
(or in a native library under it) fails one task attempt, which Prefect retries, and
never the Prefect worker. Its output goes to a temporary file (a pipe would fill up and
stall it); on failure the error carries the last lines.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from core.errors import MMError

REPO = Path(__file__).resolve().parents[1]
TAIL_LINES = 5


class ChildFailed(MMError):
    """A dataflow process exited with an error or overran its time."""


@dataclass
class ChildResult:
    exit_code: int
    seconds: float
    tail: str


def child_env(extra: dict[str, str]) -> dict[str, str]:
    """This process's environment (secrets stay in it, never in arguments or logs), the
    repository importable, and ``extra`` on top."""
    env = dict(os.environ)
    path = env.get("PYTHONPATH", "")
    env["PYTHONPATH"] = f"{REPO}{os.pathsep}{path}" if path else str(REPO)
    return env | extra


def run_dataflow(
    module: str,
    extra_env: dict[str, str],
    *,
    args: tuple[str, ...] = (),
    timeout_s: float | None = None,
    what: str = "",
) -> ChildResult:
    """``python -m bytewax.run module args`` to its end. Raises ChildFailed on a non-zero
    exit, or after ``timeout_s`` (the child is terminated, then killed)."""
    what = what or module
    cmd = [sys.executable, "-m", "bytewax.run", module, *args]
    t0 = time.monotonic()
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(cmd, env=child_env(extra_env), stdout=out, stderr=subprocess.STDOUT)
        try:
            code = proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            _stop(proc)
            raise ChildFailed(
                f"{what} still running after {timeout_s:.0f} s: stopped; last output: {_tail(out)}",
                "check the venue and the broker; the task is retried",
            ) from None
        except BaseException:
            _stop(proc)  # the task was cancelled: the child must not outlive it
            raise
        result = ChildResult(code, time.monotonic() - t0, _tail(out))
    if code != 0:
        raise ChildFailed(
            f"{what} exited with code {code}; last output: {result.tail}",
            "fix the cause shown; the task is retried",
        )
    return result


def _stop(proc: subprocess.Popen[bytes], grace_s: float = 10.0) -> None:
    proc.terminate()
    try:
        proc.wait(grace_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _tail(out: IO[bytes], window: int = 65536) -> str:
    """The last lines of the child's output (read from its last ``window`` bytes)."""
    size = out.seek(0, os.SEEK_END)
    out.seek(max(0, size - window))
    lines = out.read().decode("utf-8", "replace").splitlines()
    return " | ".join(line.strip() for line in lines[-TAIL_LINES:] if line.strip()) or "(none)"
