"""Fixtures for the feature-operator tests: hand-built books."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from core.l2book import ASK, BID, L2Book

BookFactory = Callable[..., L2Book]


def _make_book(bids: dict[int, int] | None = None, asks: dict[int, int] | None = None) -> L2Book:
    book = L2Book()
    for price, qty in (bids or {}).items():
        book.set(BID, price, qty)
    for price, qty in (asks or {}).items():
        book.set(ASK, price, qty)
    return book


@pytest.fixture
def make_book() -> BookFactory:
    """``make_book(bids={price: qty}, asks={price: qty})`` -> an L2Book in ticks/lots."""
    return _make_book
