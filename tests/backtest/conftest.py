"""Fixtures for end-to-end backtests."""

from __future__ import annotations

from pathlib import Path

import pytest
from bt_helpers import MS, T0, book_msg, write_lake

from core.events import Kind


@pytest.fixture
def scenario_lake(tmp_path: Path) -> Path:
    """Book bid 100.00 x 50 / ask 100.10 x 50 (mid 100.05); one sell trade of 4 at 99.94.

    With the test params the engine quotes bid 99.94 x 10 and ask 100.16 x 9 (see
    test_backtest_e2e for the arithmetic); the trade at our bid price fills 4 of 10.
    """
    lake = tmp_path / "lake"
    book = book_msg(T0, 1, Kind.BOOK_SNAPSHOT, [(1, 10000, 50), (-1, 10010, 50)], 1)
    book += book_msg(T0 + 100 * MS, 2, Kind.BOOK_DELTA, [(1, 9990, 5)], 3)
    book += book_msg(T0 + 2_000 * MS, 3, Kind.BOOK_DELTA, [(1, 9980, 5)], 4)
    trades = [(T0 + 20 * MS, T0 + 20 * MS, 2 << 20, "t1", 9994, 4, -1)]
    write_lake(lake, book, trades)
    return lake
