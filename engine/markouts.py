"""Fill rows waiting for their markouts (mid 1 s / 5 s / 30 s / 60 s after), compiled.

The kernel twin of :class:`operators.inventory.tracker.MarkoutTracker`: every horizon is
a FIFO over the same fills (a pointer into one ring), a row leaves once the oldest open
fill has all horizons resolved, and ``flush`` lets the rest go with NaN mids.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np
from numba import njit

from core.timeutil import NS_PER_S
from engine.rows import FILL_ROW
from operators.inventory.tracker import MARKOUT_HORIZONS_S

N_H = len(MARKOUT_HORIZONS_S)
MK_REC = np.dtype(
    [
        ("added", np.int64),  # fills added so far (absolute index of the next)
        ("emitted", np.int64),  # oldest open fill
        *[(f"hp{i}", np.int64) for i in range(N_H)],  # next unresolved fill per horizon
        ("err", np.int64),
    ]
)
KMarkouts = namedtuple("KMarkouts", ["rec", "rows", "ts", "resolved", "horizons"])
HEADROOM = 1024  # fills one message may add, at most (checked between messages)


def new_markouts(capacity: int = 4096) -> KMarkouts:
    return KMarkouts(
        np.zeros(1, MK_REC),
        np.zeros(capacity, FILL_ROW),
        np.zeros(capacity, np.int64),
        np.zeros(capacity, np.int64),
        np.array([h * NS_PER_S for h in MARKOUT_HORIZONS_S], np.int64),
    )


@njit(cache=True, _nrt=False)
def mk_headroom_ok(mk: KMarkouts) -> bool:
    r = mk.rec[0]
    return len(mk.ts) - (r.added - r.emitted) >= HEADROOM


def grow_markouts(mk: KMarkouts) -> KMarkouts:
    """A copy with twice the capacity (the ring re-laid so absolute indices still map)."""
    cap = len(mk.ts)
    new = new_markouts(cap * 2)
    r = mk.rec[0]
    new.rec[0] = r
    for idx in range(int(r["emitted"]), int(r["added"])):
        new.rows[idx % (cap * 2)] = mk.rows[idx % cap]
        new.ts[idx % (cap * 2)] = mk.ts[idx % cap]
        new.resolved[idx % (cap * 2)] = mk.resolved[idx % cap]
    return new


@njit(cache=True, _nrt=False)
def mk_add(mk: KMarkouts, row: np.ndarray, i: int, ts: int) -> None:
    """Open fill row ``row[i]`` (its mid_* fields are set to NaN here)."""
    r = mk.rec[0]
    cap = len(mk.ts)
    slot = r.added % cap
    mk.rows[slot] = row[i]
    dst = mk.rows[slot]
    dst.mid_1s = np.nan
    dst.mid_5s = np.nan
    dst.mid_30s = np.nan
    dst.mid_60s = np.nan
    mk.ts[slot] = ts
    mk.resolved[slot] = 0
    r.added += 1


@njit(cache=True, _nrt=False)
def _set_mid(row, h: int, mid: float) -> None:  # type: ignore[no-untyped-def]
    if h == 0:
        row.mid_1s = mid
    elif h == 1:
        row.mid_5s = mid
    elif h == 2:
        row.mid_30s = mid
    else:
        row.mid_60s = mid


@njit(cache=True, _nrt=False)
def _advance(mk: KMarkouts, h: int, hp: int, mid: float, ts: int) -> int:
    r = mk.rec[0]
    cap = len(mk.ts)
    horizon = mk.horizons[h]
    while hp < r.added and mk.ts[hp % cap] + horizon <= ts:
        slot = hp % cap
        _set_mid(mk.rows[slot], h, mid)
        mk.resolved[slot] += 1
        hp += 1
    return hp


@njit(cache=True, _nrt=False)
def mk_on_mid(mk: KMarkouts, mid: float, ts: int, out: np.ndarray, n_out: int) -> int:
    """Record ``mid`` for every horizon now due; rows whose horizons are all done go to
    ``out`` from ``n_out`` on. Returns the new ``n_out``."""
    r = mk.rec[0]
    if r.added == r.emitted:
        return n_out
    r.hp0 = _advance(mk, 0, r.hp0, mid, ts)
    r.hp1 = _advance(mk, 1, r.hp1, mid, ts)
    r.hp2 = _advance(mk, 2, r.hp2, mid, ts)
    r.hp3 = _advance(mk, 3, r.hp3, mid, ts)
    cap = len(mk.ts)
    while r.emitted < r.added and mk.resolved[r.emitted % cap] == N_H:
        out[n_out] = mk.rows[r.emitted % cap]
        n_out += 1
        r.emitted += 1
    return n_out


@njit(cache=True, _nrt=False)
def mk_flush(mk: KMarkouts, out: np.ndarray, n_out: int) -> int:
    """End of the data: every open row leaves, unresolved horizons as NaN."""
    r = mk.rec[0]
    cap = len(mk.ts)
    while r.emitted < r.added:
        out[n_out] = mk.rows[r.emitted % cap]
        n_out += 1
        r.emitted += 1
    r.hp0 = r.added
    r.hp1 = r.added
    r.hp2 = r.added
    r.hp3 = r.added
    return n_out
