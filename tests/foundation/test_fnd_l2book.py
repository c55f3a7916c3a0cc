"""core.l2book.L2Book unit behaviour, with values worked out by hand."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from core.l2book import ASK, BID, L2Book
from core.l2book_kernel import CompiledBook

BookType = type[L2Book] | type[CompiledBook]


@pytest.fixture(params=[L2Book, CompiledBook], ids=["reference", "compiled"])
def Book(request: pytest.FixtureRequest) -> BookType:
    """Every test runs against the reference book and the compiled kernel."""
    return request.param


@pytest.fixture
def book(Book: BookType) -> L2Book:
    """bids 100x5, 99x3, 97x10; asks 102x4, 103x1, 110x7 (ticks x lots)."""
    b = Book()
    for price, qty in ((100, 5), (99, 3), (97, 10)):
        b.set(BID, price, qty)
    for price, qty in ((110, 7), (102, 4), (103, 1)):
        b.set(ASK, price, qty)
    return b


def test_empty_book(Book: BookType) -> None:
    b = Book()
    assert b.best_bid() is None and b.best_ask() is None
    assert b.best_bid_level() is None and b.best_ask_level() is None
    assert b.mid_x2() is None and b.mid() is None and b.spread() is None
    assert not b.is_crossed()
    assert b.imbalance(5) == 0.0
    assert b.depth(BID, 3) == [] and len(b) == 0


def test_best_levels_mid_and_spread(book: L2Book) -> None:
    assert book.best_bid_level() == (100, 5)
    assert book.best_ask_level() == (102, 4)
    assert book.mid_x2() == 202 and book.mid() == 101.0
    assert book.spread() == 2
    assert len(book) == 6
    book.set(ASK, 101, 2)  # mid is now a half tick: (100 + 101) / 2
    assert book.mid_x2() == 201 and book.mid() == 100.5 and book.spread() == 1


def test_set_updates_and_zero_deletes(book: L2Book) -> None:
    book.set(BID, 99, 8)  # update in place
    assert book.qty_at(BID, 99) == 8
    book.set(BID, 100, 0)  # delete the best bid: the next one becomes best
    assert book.best_bid_level() == (99, 8) and book.qty_at(BID, 100) == 0
    book.set(ASK, 105, 0)  # deleting an absent level is a no-op
    assert book.levels() == ({99: 8, 97: 10}, {102: 4, 103: 1, 110: 7})
    book.clear()
    assert len(book) == 0 and book.levels() == ({}, {})


def test_depth_best_first(book: L2Book) -> None:
    assert book.depth(BID, 2) == [(100, 5), (99, 3)]
    assert book.depth(ASK, 2) == [(102, 4), (103, 1)]
    assert book.depth(BID, 10) == [(100, 5), (99, 3), (97, 10)]
    assert book.depth(ASK, 3) == [(102, 4), (103, 1), (110, 7)]
    assert book.depth(BID, 0) == [] and book.depth(ASK, 0) == []
    assert book.depth_qty(BID, 2) == 8 and book.depth_qty(ASK, 10) == 12


def test_imbalance(book: L2Book, Book: BookType) -> None:
    assert book.imbalance(1) == pytest.approx((5 - 4) / (5 + 4))  # 1/9
    assert book.imbalance(2) == pytest.approx((8 - 5) / (8 + 5))  # 3/13
    assert book.imbalance(5) == pytest.approx((18 - 12) / (18 + 12))  # 0.2
    only_bids = Book()
    only_bids.set(BID, 1, 3)
    assert only_bids.imbalance(5) == 1.0


def test_crossed_detection(book: L2Book) -> None:
    assert not book.is_crossed()
    book.set(BID, 102, 1)  # bid == ask: locked counts as crossed
    assert book.is_crossed() and book.spread() == 0
    book.set(BID, 102, 0)
    book.set(BID, 104, 1)  # bid above ask
    assert book.is_crossed() and book.spread() == -2


def test_book_pickles(book: L2Book) -> None:
    clone = pickle.loads(pickle.dumps(book))
    assert clone.levels() == book.levels()
    assert clone.best_bid() == 100 and clone.best_ask() == 102


def test_compiled_book_matches_reference_on_random_operations() -> None:
    """Differential: 20k random sets/deletes/clears over a sparse and a dense price range,
    including prices that force the compiled window to grow; every query agrees."""
    rng = np.random.default_rng(7)
    for lo, hi in ((1000, 1040), (1, 200_000)):
        ref, fast = L2Book(), CompiledBook()
        for step in range(10_000):
            op = rng.random()
            if op < 0.002:
                ref.clear()
                fast.clear()
                continue
            side = BID if rng.random() < 0.5 else ASK
            price = int(rng.integers(lo, hi))
            qty = 0 if rng.random() < 0.4 else int(rng.integers(1, 50))
            ref.set(side, price, qty)
            fast.set(side, price, qty)
            if step % 97 == 0 or op > 0.99:
                assert fast.levels() == ref.levels()
            assert (fast.best_bid(), fast.best_ask()) == (ref.best_bid(), ref.best_ask())
            assert fast.mid_x2() == ref.mid_x2() and fast.is_crossed() == ref.is_crossed()
            n = int(rng.integers(1, 8))
            assert fast.depth(side, n) == ref.depth(side, n)
            assert fast.imbalance(n) == ref.imbalance(n)
            assert len(fast) == len(ref)
