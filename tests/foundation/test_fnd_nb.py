"""core.nb's overflow checks and CPython max/min, compiled, against Python's exact ints."""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from core.nb import INT64_MAX, INT64_MIN, add_overflows, mul_overflows, py_max, py_min


@njit(cache=True)
def _checks(a: np.ndarray, b: np.ndarray, mul: np.ndarray, add: np.ndarray) -> None:
    for i in range(a.shape[0]):
        mul[i] = mul_overflows(a[i], b[i])
        add[i] = add_overflows(a[i], b[i])


def test_overflow_checks_agree_with_python_ints() -> None:
    """Regression: the first mul_overflows formed ``a * b`` and divided back, which LLVM
    folds to "never overflows" (10**10 x 10**9 passed). Edge values around every power
    of two and sqrt(2**63), both signs, plus random pairs: every verdict is exact."""
    rng = np.random.default_rng(1)
    edge = [0, 1, -1, 2, -2, INT64_MAX, INT64_MIN, INT64_MAX // 2 + 1, INT64_MIN // 2 - 1]
    edge += [3037000499, 3037000500, -3037000499, -3037000500, 10**9, 10**10, -(10**10)]
    edge += [s * (1 << k) + d for k in range(63) for s in (1, -1) for d in (-1, 0, 1)]
    edge = [v for v in edge if INT64_MIN <= v <= INT64_MAX]
    rand = [int(v) for v in rng.integers(INT64_MIN, INT64_MAX, 100, dtype=np.int64)]
    rand += [int(v) for v in rng.integers(-(2**34), 2**34, 100)]
    vals = edge + rand
    second = [int(v) for v in rng.choice(np.array(vals, dtype=object), 50, replace=False)]
    second += [0, 1, -1, INT64_MAX, INT64_MIN, 3037000500, -3037000500]
    pairs = [(x, y) for x in vals for y in second] + [(y, x) for x in vals for y in second]
    a = np.array([p[0] for p in pairs], np.int64)
    b = np.array([p[1] for p in pairs], np.int64)
    mul = np.zeros(len(pairs), np.bool_)
    add = np.zeros(len(pairs), np.bool_)
    _checks(a, b, mul, add)
    for k, (x, y) in enumerate(pairs):
        assert mul[k] == (not INT64_MIN <= x * y <= INT64_MAX), (x, y)
        assert add[k] == (not INT64_MIN <= x + y <= INT64_MAX), (x, y)


@njit(cache=True)
def _mm(a: float, b: float) -> tuple[float, float]:
    return py_max(a, b), py_min(a, b)


def test_py_max_min_keep_cpython_nan_and_order_semantics() -> None:
    nan = math.nan
    for a, b in ((nan, 1.0), (1.0, nan), (0.0, -0.0), (-0.0, 0.0), (2.0, 1.0), (1.0, 2.0)):
        got = _mm(a, b)
        assert repr(got) == repr((max(a, b), min(a, b))), (a, b)
