"""``mm verify-book``: replay a lake's book through the book operator and check it.

Where the venue publishes its own best bid/offer with an update id (Binance
``bookTicker``), the reconstructed book is checked against it. Alignment is by update
id, not by arrival time: the book is known exactly at the end ``u`` of each depth
diff, and the venue's top at update id ``u`` is the latest bbo with ``u_b <= u``
(a bbo is pushed on every top change). Bbos superseded inside one diff's id range
describe intermediate states that a diff stream cannot reconstruct; they are counted
as not alignable, not as agreement.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.events import Kind
from core.lake import iter_events, read_instrument
from core.progress import Progress
from core.walk import BOOK_KINDS, messages
from operators.book.sync import book_sync_for

Top = tuple[int, int, int, int]  # bid price, bid qty, ask price, ask qty


@dataclass
class BboAligner:
    """Streams two id-ordered sequences (book states at diff ends, venue bbos) and
    compares each diff end with the latest bbo at or before it, once per bbo."""

    max_pending: int = 200_000
    aligned: int = 0
    agree: int = 0
    not_alignable: int = 0
    mismatches: list[dict[str, Any]] = field(default_factory=list)
    _diffs: deque[tuple[int, Top]] = field(default_factory=deque)
    _bbos: deque[tuple[int, Top]] = field(default_factory=deque)

    def push_book(self, update_id: int, top: Top) -> None:
        self._diffs.append((update_id, top))
        self._drain(final=False)

    def push_bbo(self, update_id: int, top: Top) -> None:
        self._bbos.append((update_id, top))
        if len(self._bbos) > self.max_pending and not self._diffs:
            self._bbos.popleft()
            self.not_alignable += 1
        self._drain(final=False)

    def finish(self) -> None:
        self._drain(final=True)
        self.not_alignable += len(self._bbos)
        self._bbos.clear()

    def _drain(self, final: bool) -> None:
        diffs, bbos = self._diffs, self._bbos
        while diffs and bbos:
            d_id, d_top = diffs[0]
            b_id, b_top = bbos[0]
            if b_id > d_id:
                diffs.popleft()  # no top change inside this diff's id range
                continue
            if len(bbos) >= 2:
                if bbos[1][0] <= d_id:
                    bbos.popleft()  # superseded inside the range: intermediate state
                    self.not_alignable += 1
                    continue
            elif not final:
                return  # a later bbo might still fall inside this range
            self.aligned += 1
            if b_top == d_top:
                self.agree += 1
            elif len(self.mismatches) < 10:
                self.mismatches.append(
                    {"update_id": d_id, "book": d_top, "bbo_id": b_id, "bbo": b_top}
                )
            bbos.popleft()
            diffs.popleft()


def verify_book(lake: Path, venue: str, symbol: str, progress: bool = True) -> dict[str, Any]:
    spec = read_instrument(lake, venue, symbol)
    sync = book_sync_for(venue)
    book = sync.book
    aligner = BboAligner()
    counts = {"events": 0, "book_messages": 0, "trades": 0, "bbo_messages": 0}
    with Progress(f"verify {venue}:{symbol}", None, " events", enabled=progress) as bar:
        for day_events in iter_events(lake, venue, symbol):
            counts["events"] += len(day_events)
            for m in messages(day_events):
                if m.kind in BOOK_KINDS:
                    counts["book_messages"] += 1
                    ok = sync.on_message(m.kind, m.seq, m.prev_seq, m.first_seq, m.levels)
                    if sync.state == 1 and m.seq >= 0 and (ok or sync.crossed):
                        bid = book.best_bid_level() or (0, 0)
                        ask = book.best_ask_level() or (0, 0)
                        aligner.push_book(sync.last_seq, (bid[0], bid[1], ask[0], ask[1]))
                elif m.kind == Kind.TRADE:
                    counts["trades"] += 1
                elif m.kind == Kind.BBO:
                    counts["bbo_messages"] += 1
                    if len(m.levels) == 2 and m.seq >= 0:
                        (_, bp, bq), (_, ap, aq) = m.levels
                        aligner.push_bbo(m.seq, (bp, bq, ap, aq))
            bar.update(counts["events"])
    aligner.finish()
    stats = sync.stats
    out: dict[str, Any] = {
        "instrument": spec.id,
        **counts,
        "snapshots": stats.snapshots,
        "gaps": stats.gaps,
        "resyncs": stats.resyncs,
        "crossed": stats.crossed,
        "dropped_unsynced": stats.dropped_unsynced,
        "dropped_stale": stats.dropped_stale,
        "final_state": sync.state.name,
        "final_levels": {"bids": len(book.bids), "asks": len(book.asks)},
    }
    if counts["bbo_messages"]:
        out["bbo"] = {
            "messages": counts["bbo_messages"],
            "aligned": aligner.aligned,
            "agree": aligner.agree,
            "agreement_pct": round(100.0 * aligner.agree / aligner.aligned, 4)
            if aligner.aligned
            else None,
            "not_alignable": aligner.not_alignable,
            "mismatches": aligner.mismatches,
        }
    return out


def format_verify(r: dict[str, Any]) -> str:
    lines = [
        f"verify-book {r['instrument']}",
        f"  events            {r['events']:>12,}  (book messages {r['book_messages']:,}, "
        f"trades {r['trades']:,}, bbo messages {r['bbo_messages']:,})",
        f"  snapshots         {r['snapshots']:>12,}",
        f"  gaps              {r['gaps']:>12,}",
        f"  resyncs           {r['resyncs']:>12,}",
        f"  crossed books     {r['crossed']:>12,}",
        f"  dropped unsynced  {r['dropped_unsynced']:>12,}  (deltas before the first snapshot or after a gap)",
        f"  dropped stale     {r['dropped_stale']:>12,}",
        f"  final state       {r['final_state']:>12}  ({r['final_levels']['bids']} bid / "
        f"{r['final_levels']['asks']} ask levels)",
    ]
    bbo = r.get("bbo")
    if bbo:
        pct = "n/a" if bbo["agreement_pct"] is None else f"{bbo['agreement_pct']:.3f} %"
        lines.append(
            f"  bbo agreement     {pct:>12}  ({bbo['agree']:,} of {bbo['aligned']:,} bbo messages "
            f"aligned by update id; {bbo['not_alignable']:,} superseded inside a diff, not alignable)"
        )
    else:
        lines.append(
            "  bbo agreement              n/a  (venue publishes no best bid/offer in this data)"
        )
    return "\n".join(lines)
