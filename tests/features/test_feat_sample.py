"""All feature operators over the real samples, the way the trader loop feeds them.

The Binance sample checks the reference's behaviour; all three samples check that the
compiled kernels reproduce the reference bit for bit."""

from __future__ import annotations

import math
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from feat_compare import assert_same_state, exact

from core.events import Kind
from core.l2book_kernel import CompiledBook
from core.lake import iter_events
from core.walk import BOOK_KINDS, messages
from operators.book.sync import book_sync_for
from operators.features import kernel as K
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


@pytest.mark.parametrize(
    ("venue", "symbol"),
    [("binance-usdm", "BTCUSDT"), ("bybit", "XRPUSDT"), ("hyperliquid", "BTC")],
)
def test_compiled_features_match_the_reference_on_the_samples(
    sample_lake: Path, venue: str, symbol: str
) -> None:
    """Differential: each bundled recording through two book syncs (reference book and
    compiled book), every feature fed exactly as operators/trader.py feeds them, plus a
    synthetic fill every 50th book message for the markouts; every output, every
    reading and (every 64th message and at the end) every attribute agree bit for bit."""
    ref_sync, fast_sync = book_sync_for(venue), book_sync_for(venue)
    fast_sync.book = CompiledBook()
    ref = [ImbalanceEMA(), Volatility(), RegimeDetector(120, 30), DirectionalSignal()]
    ref.append(ToxicityDetector())
    fast = [K.CompiledImbalanceEMA(), K.CompiledVolatility(), K.CompiledRegimeDetector(120, 30)]
    fast += [K.CompiledDirectionalSignal(), K.CompiledToxicityDetector()]
    n_book = 0
    reasons: set[str] = set()  # the toxicity rules that fired
    regimes: set[Regime] = set()
    for events in iter_events(sample_lake, venue, symbol):
        for m in messages(events):
            now = m.recv_ts
            if m.kind == Kind.TRADE:
                for side, _price, qty in m.levels:
                    ref[4].on_trade(side, qty, now)
                    fast[4].on_trade(side, qty, now)
                continue
            if m.kind not in BOOK_KINDS:
                continue
            args = (m.kind, m.seq, m.prev_seq, m.first_seq, m.levels)
            usable = ref_sync.on_message(*args)
            assert fast_sync.on_message(*args) == usable
            if not usable:
                continue
            n_book += 1
            want = trader_features(ref, ref_sync.book, now, n_book)
            assert exact(trader_features(fast, fast_sync.book, now, n_book)) == exact(want)
            reasons.update(want[-1].reasons)
            regimes.add(want[-5])
            if n_book % 64 == 0:
                for a, b in zip(ref, fast, strict=True):
                    assert_same_state(a, b)
    for a, b in zip(ref, fast, strict=True):
        assert_same_state(a, b)
    if venue == "binance-usdm":  # ~6 minutes; the other two samples are seconds long
        assert n_book > 6000 and ref[1].warm and regimes == set(Regime)
        assert ref[3].qqe.trend != 0 and ref[4].markouts > 100 and len(reasons) >= 3
    else:
        assert n_book > 40


def trader_features(f: list, book: Any, now: int, n: int) -> tuple:
    """``Trader._update_features`` and the readings ``_decide`` takes, on one feature set."""
    imb, vol, regime, sig, tox = f
    mid = book.mid_x2() / 2
    out = [imb.update(book, now), vol.update(mid, now)]
    if out[-1] and vol.vol_bps is not None:
        out.append(regime.update(vol.vol_bps))
    out.append(sig.update(mid, now))
    tox.on_book(book, now, imb.raw if imb.levels == tox.depth_levels else None)
    tox.on_mid(mid, now)
    if n % 50 == 0:
        tox.on_fill(
            1 if n % 100 else -1, float(book.best_bid() if n % 100 else book.best_ask()), now
        )
    out += [vol.vol_bps, vol.atr_bps, regime.regime, regime.params(), sig.value, tox.drift(now)]
    out.append(tox.reading(now))
    return tuple(out)
