"""Shared conventions of the compiled (numba) kernels.

Every kernel keeps its state in numpy arrays so it can be pickled (Bytewax snapshots),
copied and inspected from Python: a one-element structured array ``rec`` for the
scalars and plain arrays for the rest, bundled in a namedtuple that njit functions
take as their first argument. Kernels are compiled with ``cache=True`` (start-up stays
within seconds) and never with ``fastmath``: the plain-Python operators are the
reference, and differential tests require identical output, bit for bit, which IEEE
arithmetic in the same order guarantees.

CPython semantics that numba does not copy on its own are spelled out here.
"""

from __future__ import annotations

import numpy as np
from numba import njit

INT64_MAX = np.iinfo(np.int64).max
INT64_MIN = np.iinfo(np.int64).min
NO_PRICE = -(1 << 62)  # "None" for a price in ticks (prices are positive)

# error codes a kernel leaves in its ``rec.err`` (0 = fine); the Python edge raises
ERR_OVERFLOW = 1  # an exact integer left int64
ERR_CAPACITY = 2  # a preallocated array is full (the edge grows arrays between messages)


@njit(cache=True, inline="always", _nrt=False)
def py_max(a, b):  # type: ignore[no-untyped-def]
    """CPython's ``max(a, b)``: ``b`` only if ``b > a`` (so ``max(nan, x)`` is nan)."""
    return b if b > a else a


@njit(cache=True, inline="always", _nrt=False)
def py_min(a, b):  # type: ignore[no-untyped-def]
    """CPython's ``min(a, b)``: ``b`` only if ``b < a``."""
    return b if b < a else a


@njit(cache=True, inline="always", _nrt=False)
def mul_overflows(a: int, b: int) -> bool:
    """True if ``a * b`` does not fit in int64.

    Decided by division before multiplying: numba marks int64 products ``nsw`` (overflow
    is undefined), so LLVM folds a multiply-then-divide check ``a * b // b != a`` to False.
    """
    if a == 0 or b == 0:
        return False
    if a > 0:
        if b > 0:
            return a > INT64_MAX // b
        return b != -1 and a > INT64_MIN // b  # b < -1: MIN // b is positive, floor = trunc
    if b > 0:
        return a != -1 and b > INT64_MIN // a
    if a == INT64_MIN or b == INT64_MIN:
        return True
    return -a > INT64_MAX // -b


@njit(cache=True, inline="always", _nrt=False)
def add_overflows(a: int, b: int) -> bool:
    """True if ``a + b`` does not fit in int64."""
    if b > 0:
        return a > INT64_MAX - b
    return a < INT64_MIN - b
