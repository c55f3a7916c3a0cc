"""Private work space of one writer inside the lake, and the clean-up of dead writers' leftovers.

A writer's staging directory is ``{lake}/.staging/{host}@{pid}.{random}/`` and holds a
``lock`` file the writer keeps ``flock``-ed while it works. The lock goes away with the
process however it dies (SIGKILL included), so the next import removes every staging
directory whose lock it can take and whose owner pid is gone: those of dead writers, none
of a live one (a recycled pid only delays the clean-up).

Files a writer is still writing into a partition are named
``.{final name}.{host}@{pid}.{random}.tmp`` (see ``warehouse.lake_writer``): readers skip
dot files, and a leftover one whose writer process no longer exists on this host is
removed. Leftovers of older versions (no owner in the name) are removed after an hour.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import socket
import time
import uuid
from pathlib import Path

STAGING = ".staging"
LOCK = "lock"
UNOWNED_MAX_AGE_S = 3600.0  # leftovers without an owner tag (older versions)

_HOST = re.sub(r"[^A-Za-z0-9_-]", "_", socket.gethostname())[:64] or "host"
_OWNED = re.compile(r"^(?P<host>[A-Za-z0-9_-]+)@(?P<pid>\d+)\.[0-9a-f]+$")
_OWNED_TMP = re.compile(r"\.(?P<host>[A-Za-z0-9_-]+)@(?P<pid>\d+)\.[0-9a-f]+\.tmp$")
_UNOWNED_TMP = re.compile(r"^\..+\.[0-9a-f]{8}\.tmp$")


def owner_tag() -> str:
    """``host@pid`` of this process, as it appears in staging and temp file names."""
    return f"{_HOST}@{os.getpid()}"


def temp_name(final: str) -> str:
    """Hidden name a file is written under before it is renamed to ``final``."""
    return f".{final}.{owner_tag()}.{uuid.uuid4().hex[:8]}.tmp"


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def _owner_dead(host: str, pid: int) -> bool:
    """True only when the owner is known dead: same host and no such process."""
    return host == _HOST and not pid_alive(pid)


class Staging:
    """This process's staging directory, locked for as long as it is open."""

    def __init__(self, lake: Path) -> None:
        self.path = Path(lake) / STAGING / f"{owner_tag()}.{uuid.uuid4().hex[:12]}"
        self.path.mkdir(parents=True)
        self._lock = open(self.path / LOCK, "w")  # noqa: SIM115 - held until close()
        fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)

    def close(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
        self._lock.close()
        with contextlib.suppress(OSError):  # leave no trace unless another writer is here
            self.path.parent.rmdir()

    def __enter__(self) -> Staging:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _stale_staging(d: Path) -> bool:
    lock = d / LOCK
    try:
        fh = open(lock, "r+")  # noqa: SIM115
    except FileNotFoundError:
        # no lock (yet, or an older version's directory): decide by the owner in the name
        m = _OWNED.match(d.name)
        if m is not None:
            return _owner_dead(m["host"], int(m["pid"]))
        try:
            return time.time() - d.stat().st_mtime > UNOWNED_MAX_AGE_S
        except FileNotFoundError:
            return False
    with fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False  # its writer is alive
    # free lock; a writer between creating its lock file and locking it is still alive
    m = _OWNED.match(d.name)
    return m is None or not (m["host"] == _HOST and pid_alive(int(m["pid"])))


def clean_stale_staging(lake: Path) -> list[Path]:
    """Remove the staging directories of writers that are gone; the removed paths."""
    root = Path(lake) / STAGING
    removed = []
    if root.is_dir():
        for d in sorted(root.iterdir()):
            if d.is_dir() and _stale_staging(d):
                shutil.rmtree(d, ignore_errors=True)
                removed.append(d)
        with contextlib.suppress(OSError):
            root.rmdir()
    return removed


def _stale_temp(path: Path) -> bool:
    m = _OWNED_TMP.search(path.name)
    if m is not None:
        return _owner_dead(m["host"], int(m["pid"]))
    if _UNOWNED_TMP.match(path.name):
        try:
            return time.time() - path.stat().st_mtime > UNOWNED_MAX_AGE_S
        except FileNotFoundError:
            return False
    return False


def clean_stale_temp_files(lake: Path) -> list[Path]:
    """Remove hidden ``.*.tmp`` files of dead writers from partitions and instrument specs."""
    lake = Path(lake)
    removed = []
    patterns = ("*/venue=*/symbol=*/date=*/.*.tmp", "instruments/venue=*/symbol=*/.*.tmp")
    for pattern in patterns:
        for f in sorted(lake.glob(pattern)):
            if f.is_file() and _stale_temp(f):
                with contextlib.suppress(FileNotFoundError):
                    f.unlink()
                removed.append(f)
    return removed
