"""Walk-forward windows: K consecutive (train, test) pairs, each test after its train.

Fold i is the given pair moved forward by i test lengths, so the test windows tile the
time after the first training window and every score in the out-of-sample series comes
from data its parameters were not tuned on.
"""

from __future__ import annotations

from optimize.window import Window, WindowError, check_train_test


def walk_windows(train: Window, test: Window, folds: int) -> list[tuple[Window, Window]]:
    check_train_test(train, test)
    if folds < 1:
        raise WindowError(f"--walk must be at least 1, got {folds}")
    step = test.length_ns
    return [(train.shifted(i * step), test.shifted(i * step)) for i in range(folds)]
