"""core.nb's overflow checks against Python's unbounded ints (compiled, as kernels use them)."""

from __future__ import annotations

import numpy as np
from numba import njit

from core.nb import INT64_MAX, INT64_MIN, add_overflows, mul_overflows


@njit(cache=True)
def _checks(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> None:
    for i in range(a.shape[0]):
        out[i, 0] = mul_overflows(a[i], b[i])
        out[i, 1] = add_overflows(a[i], b[i])


def test_overflow_checks_agree_with_python_ints() -> None:
    """Regression: ``a * b // b != a`` was folded to False by LLVM (numba's int64 products
    are ``nsw``), so 10**7 x 10**12 passed as fitting in int64."""
    rng = np.random.default_rng(3)
    edges = [0, 1, -1, 2, -2, 3, -3, INT64_MAX, INT64_MIN, INT64_MAX // 2, INT64_MIN // 2,
             3_037_000_499, 3_037_000_500, -3_037_000_499, -3_037_000_500, 10**7, 10**12]  # fmt: skip
    pairs = [(x, y) for x in edges for y in edges]
    for _ in range(20_000):
        x, y = (int(rng.integers(-(2 ** int(k)), 2 ** int(k))) for k in rng.integers(0, 63, 2))
        pairs.append((x, y))
    a = np.array([p[0] for p in pairs], np.int64)
    b = np.array([p[1] for p in pairs], np.int64)
    out = np.zeros((len(pairs), 2), np.bool_)
    _checks(a, b, out)
    for (x, y), (mul, add) in zip(pairs, out, strict=True):
        assert mul == (not INT64_MIN <= x * y <= INT64_MAX), (x, y)
        assert add == (not INT64_MIN <= x + y <= INT64_MAX), (x, y)


@njit(cache=True)
def _mul_all(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> None:
    for i in range(len(a)):
        out[i] = mul_overflows(a[i], b[i])


@njit(cache=True)
def _add_all(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> None:
    for i in range(len(a)):
        out[i] = add_overflows(a[i], b[i])


def _operands() -> tuple[list[int], list[int]]:
    edge = [0, 1, -1, 2, -2, 3, -3, 45_000, -15_000, 10**9, -(10**9), 10**18, 2**31,
            2**32 + 1, 3037000499, 3037000500, -3037000500, 2**62, -(2**62),
            INT64_MAX, INT64_MAX - 1, INT64_MIN, INT64_MIN + 1, INT64_MAX // 3,
            INT64_MIN // 3, INT64_MIN // 2, INT64_MAX // 2 + 1]  # fmt: skip
    rng = np.random.default_rng(5)
    rand = [int(x) for x in rng.integers(INT64_MIN, INT64_MAX, 2_000, dtype=np.int64)]
    rand += [int(x) >> int(s) for x, s in zip(rand, rng.integers(0, 63, len(rand)), strict=True)]
    vals = edge + rand
    a = [x for x in vals for _ in edge] + rand
    b = [y for _ in vals for y in edge] + rand[::-1]
    return a, b


def test_mul_overflows_is_exact() -> None:
    # regression: the wrap-then-divide check said False for 10**18 * 45_000 (compiled,
    # LLVM folded it) and for every overflow in plain Python
    a, b = _operands()
    want = [not INT64_MIN <= x * y <= INT64_MAX for x, y in zip(a, b, strict=True)]
    out = np.zeros(len(a), np.bool_)
    _mul_all(np.array(a, np.int64), np.array(b, np.int64), out)
    assert out.tolist() == want
    assert [mul_overflows.py_func(x, y) for x, y in zip(a, b, strict=True)] == want
    assert mul_overflows(10**18, 45_000) and not mul_overflows(10**14, 45_000)


def test_add_overflows_is_exact() -> None:
    a, b = _operands()
    want = [not INT64_MIN <= x + y <= INT64_MAX for x, y in zip(a, b, strict=True)]
    out = np.zeros(len(a), np.bool_)
    _add_all(np.array(a, np.int64), np.array(b, np.int64), out)
    assert out.tolist() == want
    assert [add_overflows.py_func(x, y) for x, y in zip(a, b, strict=True)] == want
