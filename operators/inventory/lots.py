"""The reference inventories' FIFO queue of open lots (``[price, qty]``, oldest first)."""

from __future__ import annotations

from collections import deque


def open_lot(lots: deque[list[int]], price: int, qty: int) -> None:
    """Open ``qty`` lots at ``price``, merged into the newest open lot at that price."""
    if lots and lots[-1][0] == price:
        lots[-1][1] += qty
    else:
        lots.append([price, qty])
