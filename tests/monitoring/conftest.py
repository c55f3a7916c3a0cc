"""Notifier fixtures: a fake Discord + Telegram per test (cheap: one local HTTP server)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fake_notify import FakeNotify


@pytest.fixture(scope="session", autouse=True)
def compiled_kernels() -> None:
    """The notifier runs no kernel: these tests need not wait for numba."""


@pytest.fixture
def fake() -> Iterator[FakeNotify]:
    with FakeNotify() as f:
        yield f
