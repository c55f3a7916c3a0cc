"""The instrument catalog: specs shipped with mm, overlaid by the user's own file.

``core/catalog/instruments.json`` ships the common instruments of each venue, so known
symbols import with no flags. ``$MM_HOME/instruments.json`` (MM_HOME defaults to
``~/.mmflow``) holds what ``mm instruments refresh`` fetched and ``mm instruments add``
entered; its entries win over the shipped ones. Both files are one JSON object with an
``instruments`` list, one instrument per line so a change is a one-line diff.
"""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from core.errors import MMError
from core.instruments import InstrumentSpec, instrument_id

SHIPPED_CATALOG = Path(__file__).resolve().parent / "catalog" / "instruments.json"
USER_CATALOG_NAME = "instruments.json"

# fields compared as numbers: "0.10" and "0.1" are the same tick
_DECIMAL_FIELDS = ("tick_size", "lot_size", "min_notional", "contract_size")


@dataclass(frozen=True)
class CatalogFile:
    """One catalog file: its specs by instrument id and its provenance note."""

    specs: dict[str, InstrumentSpec]
    as_of: str = ""
    source: str = ""


def mm_home() -> Path:
    """mm's per-user directory: ``$MM_HOME``, else ``~/.mmflow``."""
    home = os.environ.get("MM_HOME", "").strip()
    return Path(home).expanduser() if home else Path.home() / ".mmflow"


def user_catalog_path() -> Path:
    return mm_home() / USER_CATALOG_NAME


def parse_catalog(text: str, where: str) -> CatalogFile:
    """Catalog JSON -> specs; any bad entry is an error naming the file and the entry."""
    hint = f"fix or delete {where}"
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise MMError(f"instrument catalog {where} is not valid JSON: {exc}", hint) from None
    items = doc.get("instruments") if isinstance(doc, dict) else None
    if not isinstance(items, list):
        raise MMError(f"instrument catalog {where} has no 'instruments' list", hint)
    specs: dict[str, InstrumentSpec] = {}
    for n, item in enumerate(items):
        if not isinstance(item, dict):
            raise MMError(f"instrument catalog {where}: entry {n} is not an object", hint)
        try:
            spec = InstrumentSpec.from_dict(item)
        except KeyError as exc:
            raise MMError(f"instrument catalog {where}: entry {n} lacks {exc}", hint) from None
        except (MMError, ValueError, TypeError) as exc:
            raise MMError(f"instrument catalog {where}: entry {n}: {exc}", hint) from None
        specs[spec.id] = spec
    return CatalogFile(specs, str(doc.get("as_of") or ""), str(doc.get("source") or ""))


def plain_dict(d: dict[str, Any]) -> dict[str, Any]:
    """Decimals in positional notation ("0.0000001", not "1E-7"): readable and diffable."""
    return {k: format(Decimal(v), "f") if k in _DECIMAL_FIELDS else v for k, v in d.items()}


def format_catalog(specs: dict[str, InstrumentSpec], as_of: str = "", source: str = "") -> str:
    """Specs -> catalog JSON, sorted by id, one instrument per line."""
    lines = [
        "  " + json.dumps(plain_dict(specs[k].to_dict()), separators=(", ", ": "))
        for k in sorted(specs)
    ]
    body = ",\n".join(lines)
    head = json.dumps({"as_of": as_of, "source": source})[1:-1]
    return "{" + head + ', "instruments": [\n' + body + ("\n" if lines else "") + "]}\n"


def write_atomic(path: Path, text: str) -> None:
    """Write ``path`` whole or not at all: a temp file beside it, fsync, rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@cache
def shipped_catalog() -> CatalogFile:
    """The catalog shipped with mm (read once)."""
    try:
        text = SHIPPED_CATALOG.read_text(encoding="utf-8")
    except OSError as exc:
        raise MMError(
            f"the shipped instrument catalog {SHIPPED_CATALOG} cannot be read: {exc.strerror}",
            "reinstall mmflow",
        ) from None
    return parse_catalog(text, str(SHIPPED_CATALOG))


_user_cache: dict[str, tuple[tuple[int, int, int], CatalogFile]] = {}


def user_catalog(path: Path | None = None) -> CatalogFile:
    """The user's overlay (empty if absent); re-read only when the file changes."""
    path = path or user_catalog_path()
    try:
        st = path.stat()
    except FileNotFoundError:
        return CatalogFile({})
    except OSError as exc:
        raise MMError(f"instrument catalog {path} cannot be read: {exc.strerror}") from None
    key = (st.st_ino, st.st_mtime_ns, st.st_size)  # a rename is a new inode
    hit = _user_cache.get(str(path))
    if hit is not None and hit[0] == key:
        return hit[1]
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise MMError(f"instrument catalog {path} cannot be read: {exc.strerror}") from None
    parsed = parse_catalog(text, str(path))
    _user_cache[str(path)] = (key, parsed)
    return parsed


def catalog() -> dict[str, InstrumentSpec]:
    """Every instrument mm knows: shipped entries, then the user's (which win)."""
    return {**shipped_catalog().specs, **user_catalog().specs}


def lookup(venue: str, symbol: str) -> InstrumentSpec | None:
    inst = instrument_id(venue, symbol)
    user = user_catalog().specs.get(inst)
    return user if user is not None else shipped_catalog().specs.get(inst)


def origin(inst: str) -> str:
    """Where the catalog's entry for ``inst`` comes from: "user", "shipped" or ""."""
    if inst in user_catalog().specs:
        return "user"
    return "shipped" if inst in shipped_catalog().specs else ""


def differences(old: InstrumentSpec, new: InstrumentSpec) -> dict[str, tuple[Any, Any]]:
    """Fields that differ, as {field: (old, new)}; numbers compare by value."""
    a, b = old.to_dict(), new.to_dict()
    out: dict[str, tuple[Any, Any]] = {}
    for name in a:
        if name in _DECIMAL_FIELDS:
            same = Decimal(str(a[name])) == Decimal(str(b[name]))
        else:
            same = a[name] == b[name]
        if not same:
            out[name] = (a[name], b[name])
    return out


@dataclass
class CatalogUpdate:
    """What merging a batch of specs into the user catalog did."""

    path: Path
    added: list[str]
    changed: dict[str, dict[str, tuple[Any, Any]]]
    unchanged: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "added": self.added,
            "changed": {
                k: {f: {"old": o, "new": n} for f, (o, n) in v.items()}
                for k, v in self.changed.items()
            },
            "unchanged": len(self.unchanged),
        }


def update_user_catalog(specs: list[InstrumentSpec], source: str) -> CatalogUpdate:
    """Merge ``specs`` into the user catalog (atomic write); report against what mm knew.

    The user file keeps only entries that differ from the shipped catalog, so a newer
    mm's shipped entries are not hidden behind stale copies of themselves.
    """
    path = user_catalog_path()
    with _locked(path):
        return _update(path, specs, source)


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Serialise read-merge-write of the user catalog (two refreshes at once lose nothing)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.parent / f".{path.name}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _update(path: Path, specs: list[InstrumentSpec], source: str) -> CatalogUpdate:
    current = user_catalog(path)
    shipped = shipped_catalog().specs
    known = {**shipped, **current.specs}
    overlay = dict(current.specs)
    added: list[str] = []
    changed: dict[str, dict[str, tuple[Any, Any]]] = {}
    unchanged: list[str] = []
    for spec in specs:
        have = known.get(spec.id)
        if have is None:
            added.append(spec.id)
        elif diff := differences(have, spec):
            changed[spec.id] = diff
        else:
            unchanged.append(spec.id)
        base = shipped.get(spec.id)
        if base is not None and not differences(base, spec):
            overlay.pop(spec.id, None)
        else:
            overlay[spec.id] = spec
    if overlay != current.specs or not path.exists():
        as_of = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        write_atomic(path, format_catalog(overlay, as_of, source))
    return CatalogUpdate(path, sorted(added), dict(sorted(changed.items())), sorted(unchanged))


def unknown_instrument(venue: str, symbol: str) -> MMError:
    """The error for an instrument mm has no spec for, saying how to add one."""
    inst = instrument_id(venue, symbol)
    return MMError(
        f"unknown instrument {inst}: it is not in the instrument catalog",
        f"run `mm instruments refresh --venue {venue}` when online, add it with "
        f"`mm instruments add {inst} --tick-size ... --lot-size ...`, "
        "or pass --tick-size and --lot-size",
    )
