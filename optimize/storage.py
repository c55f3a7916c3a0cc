"""Where a study lives: any SQLAlchemy URL optuna accepts, checked before a trial runs.

Default: a SQLite file in the lake (``optimize/optuna.db``), or ``MM_OPTUNA_STORAGE``
(the compose Postgres: ``postgresql+psycopg2://mm:mm@localhost:5432/optuna``). Several
worker processes share one study through it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from core.errors import MMError

ENV = "MM_OPTUNA_STORAGE"


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


def open_storage(url: str) -> Any:
    """An optuna RDBStorage for ``url``; raises StorageError in one line if it cannot open."""
    import optuna

    engine_kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        engine_kwargs["connect_args"] = {"timeout": 60}  # several workers write one file
    elif url.startswith("postgresql"):
        engine_kwargs["connect_args"] = {"connect_timeout": 5}
    try:
        return optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs)
    except ModuleNotFoundError as exc:
        raise StorageError(
            f"storage {redact(url)}: the database driver {exc.name!r} is not installed",
            "install it (e.g. pip install psycopg2-binary for postgresql://) or use a sqlite:/// URL",
        ) from None
    except Exception as exc:  # sqlalchemy's OperationalError, ArgumentError, ...
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        first = re.sub(r"^\(\S+\)\s*", "", first)  # "(psycopg2.OperationalError) ..."
        raise StorageError(
            f"cannot open study storage {redact(url)}: {first}",
            "check --storage / MM_OPTUNA_STORAGE and that the database is running",
        ) from None
