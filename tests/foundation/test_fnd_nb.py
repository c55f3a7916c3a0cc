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
