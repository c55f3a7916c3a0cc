"""``mm import FILE... | DIR | GLOB``: the arguments -> the files to import.

A directory means every file in it whose format is recognised (the others are listed
as skipped, with why); a glob is expanded here, so a quoted pattern works the same as
one the shell expanded. A named file must exist and is never skipped.
"""

from __future__ import annotations

import glob
from collections.abc import Callable
from pathlib import Path

from core.errors import DataFormatError, MMError

GLOB_CHARS = frozenset("*?[")


def expand_inputs(
    args: list[str], recognise: Callable[[Path], str]
) -> tuple[list[Path], list[tuple[str, str]]]:
    """(files in argument order, each once; (file, why) skipped in directories)."""
    files: list[Path] = []
    skipped: list[tuple[str, str]] = []
    for arg in args:
        path = Path(arg)
        if path.is_dir():
            found = _directory(path, recognise, skipped)
            if not found:
                raise DataFormatError(
                    f"directory {path} holds no file mm can import",
                    f"{len(skipped)} file(s) skipped; name files explicitly to see why",
                )
            files.extend(found)
        elif not path.exists() and GLOB_CHARS & set(arg):
            matches = sorted(Path(m) for m in glob.glob(arg) if Path(m).is_file())
            if not matches:
                raise DataFormatError(f"no file matches {arg!r}", "check the pattern")
            files.extend(matches)
        elif not path.exists():
            raise DataFormatError(f"file {path} not found", "check the path")
        else:
            files.append(path)
    seen: set[Path] = set()
    unique = []
    for p in files:
        if p.resolve() not in seen:
            seen.add(p.resolve())
            unique.append(p)
    return unique, skipped


def _directory(
    directory: Path, recognise: Callable[[Path], str], skipped: list[tuple[str, str]]
) -> list[Path]:
    out = []
    for path in sorted(directory.iterdir()):
        if path.name.startswith(".") or not path.is_file():
            continue
        try:
            recognise(path)
        except MMError as exc:
            skipped.append((str(path), exc.message))
            continue
        out.append(path)
    return out
