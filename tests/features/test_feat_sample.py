"""All feature operators over the real Binance sample, the way the trader loop feeds them."""

from __future__ import annotations

import math
from itertools import pairwise
from pathlib import Path

from core.events import Kind
from core.lake import iter_events
from core.walk import BOOK_KINDS, messages
from operators.book.sync import book_sync_for
from operators.features.imbalance import ImbalanceEMA, microprice
from operators.features.regime import Regime, RegimeDetector
from operators.features.signal import DirectionalSignal
from operators.features.toxicity import REASONS, ToxicityDetector
from operators.features.volatility import Volatility

SEC = 1_000_000_000


def test_features_on_the_binance_sample(sample_lake: Path) -> None:
    sync = book_sync_for("binance-usdm")
    book = sync.book
    imb, vol, sig, tox = ImbalanceEMA(), Volatility(), DirectionalSignal(), ToxicityDetector()
    regime = RegimeDetector(window=120, min_samples=30)
    buckets: list[int] = []
    regimes: list[Regime] = []
    signals: set[int] = set()
    readings = 0
    for events in iter_events(sample_lake, "binance-usdm", "BTCUSDT"):
        for m in messages(events):
            if m.kind == Kind.TRADE:
                tox.on_trade(m.levels[0][0], m.levels[0][2], m.recv_ts)
                continue
            if m.kind not in BOOK_KINDS:
                continue
            if not sync.on_message(m.kind, m.seq, m.prev_seq, m.first_seq, m.levels):
                continue
            ts = m.recv_ts
            bb, ba = book.best_bid(), book.best_ask()
            mp = microprice(book)
            assert mp is not None and bb is not None and ba is not None
            assert bb <= mp <= ba  # a size-weighted price never leaves the touch
            assert -1.0 <= imb.update(book, ts) <= 1.0
            mid = book.mid()
            assert mid is not None
            buckets.append(ts // SEC)
            if vol.update(mid, ts) and vol.vol_bps is not None:
                regimes.append(regime.update(vol.vol_bps))
            signals.add(sig.update(mid, ts))
            tox.on_book(book, ts)
            tox.on_mid(mid, ts)
            r = tox.reading(ts)
            assert 0.0 <= r.score <= 1.0 and r.threatened_side in (-1, 0, 1)
            assert set(r.reasons) <= set(REASONS)
            readings += 1 if r.reasons else 0
    # the book was live through the whole sample (~6 minutes), with no gap over the cap
    gaps = [b - a for a, b in pairwise(buckets)]
    assert max(gaps) <= vol.max_carry + 1
    # so every elapsed 1 s interval became exactly one sample
    assert vol.samples == buckets[-1] - buckets[0] > 300
    assert vol.warm and vol.vol_bps is not None and vol.atr_bps is not None
    assert math.isfinite(vol.vol_bps) and vol.vol_bps > 0 and vol.atr_bps > 0
    assert sig.samples == vol.samples and sig.qqe.trailing == sig.qqe.trailing  # warm
    assert signals <= {-1, 0, 1}
    assert set(regimes[30:]) <= set(Regime) and len(set(regimes)) > 1
    assert readings > 0  # BTC flow is toxic somewhere in six minutes
