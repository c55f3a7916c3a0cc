"""The compiled order manager against the reference, bit for bit (randomized, fixed seeds)."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from core.events import Fill, OrderStatus, OrderUpdate
from core.instruments import ASK, BID, KNOWN_INSTRUMENTS
from core.kernel_records import RESPONSE_DTYPE
from core.params import OrderParams, QuoteParams
from core.reasons import _FIXED, R, format_reason
from operators.orders.kernel import (
    CompiledOrderManager,
    flags_for_code,
    om_on_update,
    reason_says,
)
from operators.orders.manager import OrderManager, OrderState
from operators.quoting.engine import QuoteLevel, QuoteSet

SPEC = KNOWN_INSTRUMENTS["binance-usdm:BTCUSDT"]
INST = SPEC.id
S = 1_000_000_000
MS = 1_000_000
REJECT_REASONS = ("post-only would cross", "order not found", "too many requests", "", "x")


def _same(ref: OrderManager, fast: CompiledOrderManager) -> None:
    orders = fast.orders
    assert orders == ref.orders  # LiveOrder by LiveOrder
    assert list(orders) == list(ref.orders)  # in iteration order
    assert fast.stats == ref.stats
    assert repr(fast.bucket.tokens) == repr(ref.bucket.tokens)
    assert fast.bucket.last == ref.bucket.last
    assert fast.live_count() == ref.live_count() and fast._next_id == ref._next_id


def _params(rng: np.random.Generator) -> tuple[OrderParams, QuoteParams]:
    op = OrderParams(
        replace_threshold_ticks=int(rng.integers(0, 4)),
        rate_limit_per_s=float(rng.choice([1.0, 3.5, 8.0, 50.0])),
        rate_burst=int(rng.integers(1, 10)),
        max_order_usd=float(rng.choice([1000.0, 1000.0, 150.0, 300.0])),
        max_open_orders=int(rng.choice([2, 5, 12, 20])),
        price_band_bps=float(rng.choice([500.0, 500.0, 20.0, 2.0])),
    )
    qp = QuoteParams(
        hanging_orders=bool(rng.random() < 0.5),
        hanging_cancel_bps=float(rng.choice([20.0, 5.0, 100.0])),
        max_order_age_s=float(rng.choice([0.0, 0.0, 0.5, 3.0])),
    )
    return op, qp


def _desired(rng: np.random.Generator, mid: float, shift: int) -> QuoteSet | None:
    if rng.random() < 0.05:
        return None
    qs = QuoteSet(mid=mid)
    for side, out in ((BID, qs.bids), (ASK, qs.asks)):
        for i in range(int(rng.choice([0, 1, 1, 2, 3, 4]))):
            level = i if rng.random() < 0.95 else int(rng.integers(0, 5))  # repeats, gaps
            jitter = int(rng.choice([0, 0, 0, 1, 2, 5]))
            price = int(mid) - side * (60 + 40 * i) + shift + jitter
            qty = int(rng.choice([2, 2, 2, 3, 1, 0])) if rng.random() < 0.95 else 9
            out.append(QuoteLevel(side, level, price, qty))
    return qs


def _update(ref: OrderManager, rng: np.random.Generator, cid: str, now: int) -> OrderUpdate:
    o = ref.orders.get(cid)
    reason = ""
    if o is None or rng.random() < 0.15:  # anything, at any time
        status = OrderStatus(int(rng.integers(1, 7)))
        price, qty = int(rng.integers(617000, 619000)), int(rng.integers(1, 5))
        filled = int(rng.integers(0, 3))
    else:
        price, qty, filled = o.price, o.qty, o.filled
        if o.state == OrderState.PENDING_NEW:
            status = OrderStatus.NEW if rng.random() < 0.8 else OrderStatus.REJECTED
        elif o.state == OrderState.PENDING_AMEND:
            status = OrderStatus.AMENDED if rng.random() < 0.75 else OrderStatus.REJECTED
            price, qty = o.target_price, o.target_qty
        elif o.state == OrderState.PENDING_CANCEL:
            status = OrderStatus.CANCELED if rng.random() < 0.8 else OrderStatus.REJECTED
        elif o.state == OrderState.FILLED:
            status = OrderStatus.FILLED if rng.random() < 0.9 else OrderStatus.REJECTED
            filled = qty
        else:
            status = OrderStatus(int(rng.choice([2, 3, 4, 5])))
            filled = int(rng.integers(0, qty + 1))
    if status == OrderStatus.REJECTED:
        reason = str(rng.choice(REJECT_REASONS))
    side = o.side if o is not None else BID
    return OrderUpdate(INST, cid, status, side, price, qty, filled, now, now, reason=reason)


@pytest.mark.parametrize("seed", range(6))
def test_compiled_order_manager_matches_reference_on_random_sessions(seed: int) -> None:
    """Differential: 1.5k steps per seed of random desired-quote sequences (levels added,
    dropped, repeated, moved by less or more than the replace threshold, resized, zero
    sizes, None), cancel-all decisions, mids that move hanging orders out of their band,
    random venue answers (acks, amends, cancels, partial and full fills, rejects whose
    text says "post-only" / "not found" / neither, reports for unknown ids), fills on
    either side, flattens, cancel-alls with and without in-flight orders and resets (and a
    pickle round trip half way),
    under random rate limits, thresholds, max ages and pre-trade limits, on a clock that
    now and then steps back (live timestamps): every action,
    rejection, outcome, live order, statistic and the token bucket agree exactly."""
    rng = np.random.default_rng(100 + seed)
    op, qp = _params(rng)
    ref = OrderManager(INST, SPEC, op, qp)
    fast = CompiledOrderManager(INST, SPEC, op, qp)
    now = 5 * S
    mid = 618000.5
    shift = 0
    for step in range(1_500):
        now += int(rng.choice([0, 1, MS, 50 * MS, 130 * MS, 400 * MS, S, 4 * S, -70 * MS]))
        if rng.random() < 0.1:
            mid += float(rng.choice([-1, 1])) * float(rng.uniform(0, 2000))
            mid = min(max(mid, 610000.5), 626000.5)
        if rng.random() < 0.2:
            shift = int(rng.integers(-6, 7))
        u = rng.random()
        if u < 0.45:
            desired = _desired(rng, mid, shift)
            cancel_all = bool(rng.random() < 0.04)
            m = mid if rng.random() > 0.02 else 0.0
            a = ref.reconcile(desired, now, m, cancel_all=cancel_all)
            b = fast.reconcile(desired, now, m, cancel_all=cancel_all)
            assert repr(b) == repr(a), step
        elif u < 0.78:
            cids = list(ref.orders)
            picks = [str(c) for c in rng.choice(cids, min(len(cids), 3), replace=False)]
            if rng.random() < 0.1 or not picks:
                picks.append(str(rng.choice(["mmbt-99999", "other-1", "mmbt-01", "mmbt-"])))
            for cid in picks:
                upd = _update(ref, rng, cid, now)
                assert fast.on_update(upd) == ref.on_update(upd), step
        elif u < 0.9 and ref.orders:
            cid = str(rng.choice(list(ref.orders)))
            o = ref.orders[cid]
            side = o.side if rng.random() < 0.9 else -o.side
            f = Fill(INST, cid, side, o.price, int(rng.integers(1, o.qty + 2)), -5, True, now, now)
            ref.on_fill(f)
            fast.on_fill(f)
        elif u < 0.94:
            in_flight = bool(rng.random() < 0.5)
            why = "book unusable: crossed book"
            assert repr(fast.cancel_all(now, why, in_flight)) == repr(
                ref.cancel_all(now, why, in_flight)
            )
        elif u < 0.975:
            pos = int(rng.integers(-5, 6))
            bb, ba = int(mid - 0.5), int(mid + 0.5)
            why = "trailing stop: -12.00 bps, best 3.00"
            assert repr(fast.flatten(pos, bb, ba, now, why)) == repr(
                ref.flatten(pos, bb, ba, now, why)
            )
        elif u < 0.98:
            why = "reconcile after private stream reset"
            assert repr(fast.reset_all(now, why)) == repr(ref.reset_all(now, why))
        _same(ref, fast)
        if step == 700:  # a Bytewax snapshot: the state pickles and carries on
            fast = pickle.loads(pickle.dumps(fast))
        for cid in list(ref.orders)[:3]:
            assert fast.level_of(cid) == ref.orders[cid].level
            for probe in (cid, cid + "0", cid + " ", "x" + cid):
                assert fast.owns(probe) == ref.owns(probe)


def test_many_levels_and_hanging_orders_grow_the_order_table() -> None:
    """20 levels a side with hanging orders piling up after fills: the table (64 rows)
    grows between calls and the compiled manager still matches the reference."""
    op = OrderParams(rate_limit_per_s=1000.0, rate_burst=100, max_open_orders=1000)
    qp = QuoteParams(hanging_orders=True, hanging_cancel_bps=1000.0)
    ref, fast = OrderManager(INST, SPEC, op, qp), CompiledOrderManager(INST, SPEC, op, qp)
    now = S
    for rnd in range(6):
        qs = QuoteSet(
            bids=[QuoteLevel(BID, i, 617900 - 10 * i - rnd, 2) for i in range(20)],
            asks=[QuoteLevel(ASK, i, 618100 + 10 * i + rnd, 2) for i in range(20)],
        )
        now += S
        assert repr(fast.reconcile(qs, now, 618000.5)) == repr(ref.reconcile(qs, now, 618000.5))
        for cid in list(ref.orders):
            u = OrderUpdate(INST, cid, OrderStatus.NEW, 1, 0, 0, 0, now, now)
            assert fast.on_update(u) == ref.on_update(u)
        bid = next(c for c, o in ref.orders.items() if o.side == BID and not o.hanging)
        f = Fill(INST, bid, BID, 617900, 2, 0, True, now, now)  # the asks start hanging
        ref.on_fill(f)
        fast.on_fill(f)
        _same(ref, fast)
    assert ref.live_count() > 64 and fast.om.orders.shape[0] >= 2 * ref.live_count()


def test_reject_text_flags_match_the_references_substring_tests() -> None:
    # the sim's own codes: exactly the two whose text says "post-only" / "not found"
    for code, text in _FIXED.items():
        assert flags_for_code(code) == reason_says(text), text
    assert flags_for_code(R.SIM_CROSS) == (True, False)
    assert flags_for_code(R.SIM_NOT_FOUND) == (False, True)
    assert reason_says(format_reason(R.EXTERNAL, tok=0, strings=["Post-only order not found"]))
    assert reason_says("post-only would take liquidity") == (True, False)
    # a kernel response record that says "post-only" ends a resting order, one that does
    # not leaves it live (the amend failed); the order manager reads only the flags
    for says, state in ((True, None), (False, OrderState.LIVE)):
        fast = CompiledOrderManager(INST, SPEC, OrderParams(), QuoteParams())
        (a,) = fast.reconcile(QuoteSet(bids=[QuoteLevel(BID, 0, 617900, 2)]), S, 618000.5)[0]
        fast.on_update(OrderUpdate(INST, a.client_id, OrderStatus.NEW, BID, 617900, 2, 0, 0, 0))
        fast.reconcile(QuoteSet(bids=[QuoteLevel(BID, 0, 617950, 2)]), 2 * S, 618000.5)
        resp = np.zeros(1, dtype=RESPONSE_DTYPE)
        resp[0]["cid"], resp[0]["status"] = 1, int(OrderStatus.REJECTED)
        resp[0]["says_post_only"] = says
        assert om_on_update(fast.om, resp, 0) == 5  # REJECTED
        o = fast.orders.get(a.client_id)
        assert (o.state if o else None) == state
