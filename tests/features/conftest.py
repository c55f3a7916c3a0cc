"""Fixtures for the feature-operator tests: hand-built books, reference and compiled.

Every feature test runs twice: against the plain-Python reference operators and against
the compiled kernels' wrappers (``operators.features.kernel``), each over its own kind
of book (``core.l2book.L2Book`` / ``core.l2book_kernel.CompiledBook``).
"""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace

import pytest

from core.l2book import ASK, BID, L2Book
from core.l2book_kernel import CompiledBook
from operators.features import kernel
from operators.features.imbalance import ImbalanceEMA, microprice
from operators.features.regime import RegimeDetector
from operators.features.signal import QQE, DirectionalSignal, KalmanTrend
from operators.features.toxicity import ToxicityDetector
from operators.features.volatility import Volatility

BookFactory = Callable[..., L2Book]

REFERENCE = SimpleNamespace(
    name="reference",
    Book=L2Book,
    microprice=microprice,
    ImbalanceEMA=ImbalanceEMA,
    Volatility=Volatility,
    RegimeDetector=RegimeDetector,
    KalmanTrend=KalmanTrend,
    QQE=QQE,
    DirectionalSignal=DirectionalSignal,
    ToxicityDetector=ToxicityDetector,
)
COMPILED = SimpleNamespace(
    name="compiled",
    Book=CompiledBook,
    microprice=kernel.compiled_microprice,
    ImbalanceEMA=kernel.CompiledImbalanceEMA,
    Volatility=kernel.CompiledVolatility,
    RegimeDetector=kernel.CompiledRegimeDetector,
    KalmanTrend=kernel.CompiledKalmanTrend,
    QQE=kernel.CompiledQQE,
    DirectionalSignal=kernel.CompiledDirectionalSignal,
    ToxicityDetector=kernel.CompiledToxicityDetector,
)


@pytest.fixture(params=[REFERENCE, COMPILED], ids=["reference", "compiled"])
def impl(request: pytest.FixtureRequest) -> SimpleNamespace:
    """The feature classes (and book) of one implementation: reference or compiled."""
    return request.param


@pytest.fixture
def make_book(impl: SimpleNamespace) -> BookFactory:
    """``make_book(bids={price: qty}, asks={price: qty})`` -> a book (of ``impl``'s kind)."""

    def make(bids: dict[int, int] | None = None, asks: dict[int, int] | None = None) -> L2Book:
        book = impl.Book()
        for price, qty in (bids or {}).items():
            book.set(BID, price, qty)
        for price, qty in (asks or {}).items():
            book.set(ASK, price, qty)
        return book

    return make
