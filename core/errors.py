"""Errors a user can act on.

Every error that reaches the CLI is one line: what went wrong, then in parentheses what to do.
Tracebacks are for bugs, not for bad input.
"""

from __future__ import annotations


class MMError(Exception):
    """Base of all user-facing errors: ``message (hint)``."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class InexactValueError(MMError, ValueError):
    """A price or size that is not a whole number of ticks or lots, or is out of range."""


class ConfigError(MMError):
    """Invalid configuration; the message names the offending key."""


class DataFormatError(MMError):
    """An input file that cannot be read at all (unknown format, corrupt, truncated, missing)."""


class MalformedLine(Exception):
    """One input line that cannot be parsed; counted and skipped by importers."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class LakeError(MMError):
    """The Parquet lake is missing, inconsistent, or lacks the requested data."""
