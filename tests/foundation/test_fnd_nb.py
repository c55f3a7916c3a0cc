"""core.nb's exact-integer guards against Python's unbounded ints, compiled and not."""

from __future__ import annotations

import numpy as np
from numba import njit

from core.nb import INT64_MAX, INT64_MIN, add_overflows, mul_overflows


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
