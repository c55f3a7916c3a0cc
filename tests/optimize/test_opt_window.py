"""Windows: parsing, the train/test rule, no-data errors, and the seeded book of a late start."""

from __future__ import annotations

from pathlib import Path

import pytest
from opt_helpers import SYMBOL, TEST, VENUE

from core.errors import LakeError
from core.params import StrategyParams
from optimize.evaluate import run_params
from optimize.walk import walk_windows
from optimize.window import WindowError, check_train_test, load_window, parse_window


def test_parse_window() -> None:
    w = parse_window("2024-08-08T23:54:00Z/2024-08-08T23:55:00Z")
    assert w.length_ns == 60 * 10**9
    assert w.text == "2024-08-08T23:54:00.000Z/2024-08-08T23:55:00.000Z"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2024-08-08T23:54:00Z", "train window '2024-08-08T23:54:00Z' is not an interval"),
        (
            "2024-08-08T23:55:00Z/2024-08-08T23:55:00Z",
            "train window '2024-08-08T23:55:00Z/2024-08-08T23:55:00Z' is empty",
        ),
        (
            "2024-08-08T23:56:00Z/2024-08-08T23:55:00Z",
            "train window '2024-08-08T23:56:00Z/2024-08-08T23:55:00Z' is empty",
        ),
        ("yesterday/2024-08-08T23:55:00Z", "cannot parse time 'yesterday'"),
    ],
)
def test_bad_window(text: str, message: str) -> None:
    with pytest.raises(Exception) as err:
        parse_window(text, "train window")
    assert str(err.value).startswith(message)


def test_overlapping_windows_refused() -> None:
    train = parse_window("2024-08-08T23:54:00Z/2024-08-08T23:57:30Z")
    test = parse_window("2024-08-08T23:57:00Z/2024-08-08T23:59:00Z")
    with pytest.raises(WindowError, match="overlaps the training window"):
        check_train_test(train, test)


def test_walk_windows_roll_by_the_test_length() -> None:
    train = parse_window("2024-08-08T23:54:00Z/2024-08-08T23:56:00Z")
    test = parse_window("2024-08-08T23:56:00Z/2024-08-08T23:57:00Z")
    folds = walk_windows(train, test, 3)
    assert [(a.text[11:19], b.text[11:19]) for a, b in folds] == [
        ("23:54:00", "23:56:00"),
        ("23:55:00", "23:57:00"),
        ("23:56:00", "23:58:00"),
    ]
    for a, b in folds:
        assert b.start_ns >= a.end_ns  # never scored on tuned data


def test_train_window_without_data(opt_lake: Path) -> None:
    w = parse_window("2024-08-09T10:00:00Z/2024-08-09T11:00:00Z")
    with pytest.raises(LakeError) as err:
        load_window(opt_lake, VENUE, SYMBOL, w, "train window")
    assert str(err.value) == (
        "train window: no market data for binance-usdm:BTCUSDT from 2024-08-09T10:00:00.000Z"
        " to 2024-08-09T11:00:00.000Z: the lake holds it from 2024-08-08T23:54:15.030Z"
        " to 2024-08-08T23:59:59.833Z"
        " (choose a start and end inside that span)"
    )


def test_late_window_starts_with_the_book_as_of_its_start(opt_lake: Path) -> None:
    """The sample's only snapshot is at 23:54:15: a 23:57:30 start gets a seeded book, and
    the venue's sync accepts every following diff (no gap, nothing dropped)."""
    data = load_window(opt_lake, VENUE, SYMBOL, parse_window(TEST))
    assert data.seeded
    first = data.batches[0]
    assert first["kind"][0] == 1 and first["recv_ts"][0] >= parse_window(TEST).start_ns
    summary = run_params(data, StrategyParams())
    assert summary is not None
    book = summary["book"]
    assert (book["snapshots"], book["gaps"], book["dropped_unsynced"], book["resyncs"]) == (
        1,
        0,
        0,
        0,
    )
    assert summary["fills"] > 0
    assert summary["start"] >= parse_window(TEST).start_ns  # nothing from before the window
