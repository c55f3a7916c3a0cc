"""Where a study lives: any SQLAlchemy URL optuna accepts, checked before a trial runs.

Default: a SQLite file in the lake (``optimize/optuna.db``), or ``MM_OPTUNA_STORAGE``
(the compose Postgres: ``postgresql+psycopg://mm:mm@localhost:5432/optuna``). Several
worker processes share one study through it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from core.errors import MMError

ENV = "MM_OPTUNA_STORAGE"
# driver module -> the package that provides it
PACKAGES = {"psycopg": "psycopg[binary]", "psycopg2": "psycopg2-binary", "MySQLdb": "mysqlclient"}


class StorageError(MMError):
    """The study storage cannot be opened (bad URL, missing driver, unreachable server)."""


def default_storage(lake: Path) -> str:
    env = os.environ.get(ENV)
    if env:
        return env
    path = (lake / "optimize" / "optuna.db").resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def redact(url: str) -> str:
    """The URL without its password (error messages and reports)."""
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)


_OPEN: dict[str, Any] = {}  # one storage per URL and process (opening checks the schema: slow)


def open_storage(url: str) -> Any:
    """An optuna RDBStorage for ``url``; raises StorageError in one line if it cannot open."""
    if url not in _OPEN:
        _OPEN[url] = _open(url)
    return _OPEN[url]


def _open(url: str) -> Any:
    import optuna

    engine_kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        engine_kwargs["connect_args"] = {"timeout": 60}  # several workers write one file
    elif url.startswith("postgresql"):
        engine_kwargs["connect_args"] = {"connect_timeout": 5}
    _check_driver(url)
    try:
        return optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs)
    except Exception as exc:  # sqlalchemy's OperationalError, ArgumentError, ...
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        first = re.sub(r"^\(\S+\)\s*", "", first)  # "(psycopg2.OperationalError) ..."
        raise StorageError(
            f"cannot open study storage {redact(url)}: {first}",
            "check --storage / MM_OPTUNA_STORAGE and that the database is running",
        ) from None


def _check_driver(url: str) -> None:
    """A bad URL or a missing database driver, named (optuna's own message names neither)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        make_url(url).get_dialect().import_dbapi()
    except ModuleNotFoundError as exc:
        raise StorageError(
            f"storage {redact(url)}: the database driver {exc.name!r} is not installed",
            f"install {PACKAGES.get(str(exc.name), exc.name)} into mmflow's environment,"
            " or use a sqlite:/// URL",
        ) from None
    except (ArgumentError, NoSuchModuleError) as exc:
        raise StorageError(
            f"storage {redact(url)} is not a database URL: {exc}",
            "use e.g. sqlite:///study.db or postgresql+psycopg://mm:mm@localhost:5432/optuna",
        ) from None
