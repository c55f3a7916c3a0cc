"""``mm instruments refresh``: a venue's current instruments -> the user's catalog."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from connectors.instrument_sources import FETCHERS, URLS, Fetched, base_url
from core.errors import MMError
from core.instrument_catalog import CatalogUpdate, update_user_catalog
from core.instruments import VENUES


@dataclass
class RefreshResult:
    venue: str
    fetched: int
    update: CatalogUpdate
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "venue": self.venue,
            "fetched": self.fetched,
            **self.update.to_dict(),
            "skipped": [{"symbol": s, "reason": r} for s, r in self.skipped],
        }


def check_venue(venue: str) -> None:
    if venue not in VENUES:
        raise MMError(f"unknown venue {venue!r}", f"use one of {', '.join(VENUES)}")
    if venue not in FETCHERS:
        raise MMError(
            f"venue {venue} has no instruments endpoint mm can read",
            f"add its instruments with `mm instruments add {venue}:SYMBOL "
            "--tick-size ... --lot-size ...`",
        )


def _select(fetched: Fetched, venue: str, symbols: list[str]) -> Fetched:
    """Only the requested symbols (case-insensitive); each must be in the reply."""
    by_name = {s.symbol.upper(): s for s in fetched.specs}
    skipped = {name.upper(): why for name, why in fetched.skipped}
    chosen = Fetched()
    for want in dict.fromkeys(s.upper() for s in symbols):
        if want in by_name:
            chosen.specs.append(by_name[want])
        elif want in skipped:
            raise MMError(f"{venue} lists {want}, but its entry is unusable: {skipped[want]}")
        else:
            raise MMError(
                f"{venue} has no trading instrument {want}",
                "check the symbol; without --symbols, refresh takes every trading instrument",
            )
    return chosen


def refresh(venue: str, symbols: list[str] | None = None) -> RefreshResult:
    """Fetch ``venue``'s instruments (or just ``symbols``) and merge them into the catalog."""
    check_venue(venue)
    fetched = FETCHERS[venue]()
    if not fetched.specs and not fetched.skipped:
        raise MMError(
            f"{base_url(venue)} listed no trading instruments for {venue}",
            f"check {URLS[venue][0]}",
        )
    if symbols:
        fetched = _select(fetched, venue, symbols)
    source = f"mm instruments refresh --venue {venue} ({base_url(venue)})"
    update = update_user_catalog(fetched.specs, source)
    return RefreshResult(venue, len(fetched.specs), update, fetched.skipped)
