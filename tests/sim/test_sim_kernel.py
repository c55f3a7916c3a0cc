"""The compiled venue against the reference: randomized differential runs and edge cases.

Both venues get the same random market messages (books, deltas, BBOs with and without
update ids, trades, feed resets) and the same random actions (post-only, IOC and
reduce-only places, amends, cancels, cancel-alls, bad ids, sides, prices and
instruments) at random latencies, under every queue model and both market-data latency
modes. After every step the responses (every field, in order, compared by ``repr`` so
an int where the reference has a float fails too), the resting orders (queue estimates
included), the counters and the position must be identical.
"""

from __future__ import annotations

import pickle
from decimal import Decimal

import numpy as np
import pytest

from connectors.sim.config import SimConfig
from connectors.sim.kernel import (
    ERR_CAPACITY,
    NO_TS,
    CompiledSimVenue,
    _on_market_full,
    grow_sim,
    new_sim,
    sim_fits,
    sim_next_response_ts,
    sim_on_market,
    sim_on_market_quiet,
    sim_poll,
    sim_quiet,
    sim_send,
    sim_valid_price,
)
from connectors.sim.venue import SimVenue
from core.errors import MMError
from core.events import EVENT_DTYPE, Kind
from core.instruments import InstrumentSpec, known_instrument
from core.kernel_records import ACTION_DTYPE, RESPONSE_DTYPE
from core.l2book import ASK, BID, L2Book
from core.l2book_kernel import CompiledBook
from core.orders import ActionType, OrderAction
from core.walk import Message

MS = 1_000_000
# tick 0.1, lot 1, min notional 150 = 1500 units: one lot at ~1000 ticks is below it
SPEC = InstrumentSpec("sim", "TEST", Decimal("0.1"), Decimal("1"), Decimal("150"))


class Pair:
    """The reference and the compiled venue driven in lockstep, each with its own book."""

    def __init__(self, spec: InstrumentSpec, config: SimConfig) -> None:
        self.spec = spec
        self.ref, self.fast = SimVenue(spec, config), CompiledSimVenue(spec, config)
        self.rbook, self.fbook = L2Book(), CompiledBook()
        self.n_ord = 0
        self.responses = 0
        self.float_aheads = 0  # queue estimates seen as floats (probabilistic models)

    def market(self, kind: int, recv: int, exch: int, seq: int, rows: list) -> None:
        self.n_ord += 1
        m = Message(kind, 0, len(rows), recv, exch, self.n_ord, seq, -1, -1, rows)
        self.ref.on_market(m, self.rbook)
        self.fast.on_market(m, self.fbook)
        for book in (self.rbook, self.fbook):
            if kind in (Kind.BOOK_SNAPSHOT, Kind.FEED_RESET):
                book.clear()
            if kind in (Kind.BOOK_SNAPSHOT, Kind.BOOK_DELTA):
                for side, price, qty in rows:
                    if side:
                        book.set(side, price, qty)

    def send(self, action: OrderAction, t: int) -> None:
        errors = []
        for venue in (self.ref, self.fast):
            try:
                venue.send(action, t)
            except ValueError as exc:
                errors.append(str(exc))
        assert len(errors) in (0, 2) and len(set(errors)) <= 1, errors

    def advance(self, t: int) -> None:
        self.ref.advance(t, self.rbook)
        self.fast.advance(t, self.fbook)

    def poll(self, t: int) -> None:
        assert self.fast.next_response_ts() == self.ref.next_response_ts()
        got, want = self.fast.poll(t), self.ref.poll(t)
        assert repr(got) == repr(want)
        self.responses += len(want)

    def check_state(self) -> None:
        orders = self.ref.open_orders()
        assert repr(self.fast.open_orders()) == repr(orders)
        self.float_aheads += sum(isinstance(o.ahead, float) for o in orders.values())
        assert self.fast.stats == self.ref.stats
        assert list(self.fast.stats.rejected) == list(self.ref.stats.rejected)
        assert self.fast.position == self.ref.position

    def repickle(self) -> None:
        self.ref = pickle.loads(pickle.dumps(self.ref))
        self.fast = pickle.loads(pickle.dumps(self.fast))
        self.fbook = pickle.loads(pickle.dumps(self.fbook))


def _random_run(seed: int, spec: InstrumentSpec, config: SimConfig, steps: int) -> Pair:
    rng = np.random.default_rng(seed)
    pr = Pair(spec, config)
    ri = rng.integers
    unit = int(spec.price_to_ticks("1")) if spec.price_sig_figs else 1  # price step
    mid = 1000 * unit if not spec.price_sig_figs else 99_980
    t = 0
    seq = 1000
    cids: list[str] = []
    n_cid = 0
    skew = int(ri(-1_300, 1_300)) * MS  # local vs exchange clock (recorded mode)
    for step in range(steps):
        t += int(ri(0, 4)) * MS // 2 + (int(ri(0, 1000)) if rng.random() < 0.3 else 0)
        if rng.random() < 0.05:
            mid += int(ri(-2, 3)) * unit
        u = rng.random()
        if u < 0.5:  # a market message
            k = rng.random()
            seq += int(ri(1, 4))
            s = seq if rng.random() < 0.6 else -1
            if rng.random() < 0.05:
                s = max(seq - int(ri(1, 6)), 0)  # older than what came before
            lat = int(ri(0, 8)) * MS // 2 + int(ri(0, 1000))
            exch = 0 if rng.random() < 0.05 else t - lat + skew
            if k < 0.38:  # mostly a sane book (bids below mid < asks), sometimes not
                rows = []
                for _ in range(int(ri(1, 6))):
                    side = int(rng.choice((BID, ASK))) if rng.random() > 0.02 else 0
                    off = int(ri(0, 8)) if rng.random() > 0.1 else int(ri(-3, 1))
                    price = mid - off * unit if side == BID else mid + (1 + off) * unit
                    rows.append((side, price, 0 if rng.random() < 0.3 else int(ri(1, 25))))
                pr.market(Kind.BOOK_DELTA, t, exch, s, rows)
            elif k < 0.62:
                rows = []
                for _ in range(int(ri(1, 4))):
                    side = int(rng.choice((BID, ASK))) if rng.random() > 0.03 else 0
                    off = int(ri(-1, 4))
                    price = mid - off * unit if side == ASK else mid + (1 + off) * unit
                    rows.append((side, price, int(ri(1, 18)) if rng.random() > 0.03 else 0))
                pr.market(Kind.TRADE, t, exch, -1, rows)
            elif k < 0.88:
                bp = mid - int(ri(0, 4)) * unit
                ap = bp + int(ri(-1, 4)) * unit
                rows = [(BID, bp, int(ri(0, 15))), (ASK, ap, int(ri(0, 15)))]
                if rng.random() < 0.1:
                    rows = [rows[int(ri(0, 2))]]
                if rng.random() < 0.05:
                    rows[0] = (rows[0][0], 0, 3)
                pr.market(Kind.BBO, t, exch, s, rows)
            elif k < 0.97:
                nb, na = int(ri(0, 8)), int(ri(0, 8))
                bid0 = mid - int(ri(0, 3)) * unit
                ask0 = mid + int(ri(0, 3)) * unit
                rows = [(BID, bid0 - i * unit, int(ri(1, 25))) for i in range(nb)]
                rows += [(ASK, ask0 + i * unit, int(ri(1, 25))) for i in range(na)]
                pr.market(Kind.BOOK_SNAPSHOT, t, exch, s, rows or [(0, 0, 0)])
            else:
                pr.market(Kind.FEED_RESET, t, exch, -1, [(0, 0, 0)])
        else:  # one or a few actions
            for _ in range(int(ri(1, 4))):
                a = rng.random()
                bb, ba = pr.rbook.best_bid(), pr.rbook.best_ask()
                if a < 0.45:
                    n_cid += 1
                    cid = f"c{n_cid}"
                    if rng.random() < 0.03 and cids:
                        cid = cids[int(ri(0, len(cids)))]  # duplicate
                    elif rng.random() < 0.02:
                        cid = ""
                    side = int(rng.choice((BID, ASK)))
                    if rng.random() < 0.02:
                        side = int(rng.choice((0, 2)))
                    ref_p = (bb if side == BID else ba) or mid
                    price = ref_p - side * int(ri(-1, 4)) * unit
                    if spec.price_sig_figs and rng.random() < 0.5:
                        price += int(ri(-9, 10))  # often off the significant figures
                    if rng.random() < 0.02:
                        price = int(ri(-2, 1))
                    qty = int(ri(1, 9)) if rng.random() > 0.03 else int(ri(-1, 1))
                    post = rng.random() < 0.8
                    reduce = rng.random() < 0.15
                    inst = spec.id if rng.random() > 0.02 else "sim:OTHER"
                    typ: int = ActionType.PLACE if rng.random() > 0.01 else 9
                    act = OrderAction(typ, inst, cid, side, price, qty, post, reduce)  # type: ignore[arg-type]
                    pr.send(act, t)
                    cids.append(cid)
                elif a < 0.9 and cids:
                    live = list(pr.ref.open_orders())  # mostly resting orders, some gone
                    if live and rng.random() < 0.8:
                        cid = live[int(ri(0, len(live)))]
                    else:
                        cid = cids[int(ri(max(0, len(cids) - 12), len(cids)))]
                    if a < 0.75:
                        price = 0 if rng.random() < 0.4 else mid + int(ri(-5, 6)) * unit
                        qty = 0 if rng.random() < 0.4 else int(ri(1, 10))
                        act = OrderAction(ActionType.AMEND, spec.id, cid, 0, price, qty)
                    else:
                        act = OrderAction(ActionType.CANCEL, spec.id, cid)
                    pr.send(act, t)
                elif a < 0.93:
                    pr.send(OrderAction(ActionType.CANCEL_ALL, spec.id, ""), t)
                else:  # out of time order: both refuse, nothing changes
                    pr.send(OrderAction(ActionType.CANCEL, spec.id, "c1"), t - MS)
        if rng.random() < 0.03:
            pr.advance(t + int(ri(0, 10)) * MS)
        nxt = pr.ref.next_response_ts()
        if nxt is not None and rng.random() < 0.2:
            pr.poll(nxt)  # wake up when the next response arrives, as the trader does
        pr.poll(t)
        if step % 7 == 0:
            pr.check_state()
        if step == steps // 2:
            pr.repickle()
    end = t + 100 * MS
    pr.advance(end)
    pr.poll(end)
    pr.check_state()
    return pr


CONFIGS = [
    SimConfig(),
    SimConfig(md_latency="recorded", order_latency_ms=2.0, response_latency_ms=1.0),
    SimConfig(queue_model="power", order_latency_ms=0.0, response_latency_ms=0.0),
    SimConfig(queue_model="power", queue_power=0.7, md_latency="recorded"),
    SimConfig(queue_model="power", queue_power=3, md_latency_ms=0.5, order_latency_ms=1.0),
    SimConfig(queue_model="log", md_latency_ms=0.0, response_latency_ms=7.0),
    SimConfig(queue_model="log", md_latency="recorded", order_latency_ms=0.5),
]


@pytest.mark.parametrize("config", CONFIGS, ids=range(len(CONFIGS)))
def test_random_runs_match_reference(config: SimConfig) -> None:
    pr = _random_run(11, SPEC, config, 2_000)
    st = pr.ref.stats
    # the run exercises what it claims to: maker and taker fills, amends, cancels, every
    # reject reason, and fractional queue estimates exactly where the model makes them
    assert st.maker_fills > 100 and st.taker_fills > 15 and st.amended > 50
    assert st.canceled > 100 and st.expired > 50 and len(st.rejected) == 11
    assert pr.responses > 1_500
    assert (pr.float_aheads > 0) == (config.queue_model != "risk_averse")


@pytest.mark.parametrize("seed", [1, 2])
def test_random_runs_on_a_significant_figure_venue(seed: int) -> None:
    # Hyperliquid BTC: tick 0.1, 5 significant figures; prices straddle 10000.0, where the
    # price quantum goes from 0.1 (1 tick) to 1.0 (10 ticks)
    spec = InstrumentSpec(
        "hyperliquid", "BTC", Decimal("0.1"), Decimal("0.00001"), Decimal("0.01"),
        price_sig_figs=5,
    )  # fmt: skip
    pr = _random_run(seed, spec, SimConfig(queue_model="log"), 1_500)
    assert pr.ref.stats.rejected.get("invalid price", 0) > 10
    assert pr.ref.stats.maker_fills > 10


# -- the price rule ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("tick", "sig"),
    [("0.1", 5), ("0.01", 5), ("0.001", 5), ("0.5", 3), ("0.025", 4), ("5", 2), ("0.0001", 1)],
)
def test_significant_figure_rule_is_the_reference(tick: str, sig: int) -> None:
    spec = InstrumentSpec("x", "Y", Decimal(tick), Decimal("1"), price_sig_figs=sig)
    sim = new_sim(spec, SimConfig())
    rng = np.random.default_rng(3)
    # every tick count up to 30k, decade boundaries, and random ones up to int64
    cands = set(range(-3, 30_000))
    for e in range(19):
        for d in (-2, -1, 0, 1, 2):
            cands.add(10**e + d)
            cands.add(int(Decimal(10) ** e / Decimal(tick)) + d)
    cands.update(int(x) for x in rng.integers(1, 2**63 - 1, 3_000, dtype=np.int64))
    cands.add(2**63 - 1)
    cands = {c for c in cands if c < 2**63}
    bad = [t for t in sorted(cands) if sim_valid_price(sim, t) != spec.is_valid_price_ticks(t)]
    assert bad == []


def test_tick_with_too_many_digits_is_refused() -> None:
    spec = InstrumentSpec("x", "Y", Decimal("0.01234567891"), Decimal("1"), price_sig_figs=5)
    with pytest.raises(MMError, match="more than 9 significant digits"):
        CompiledSimVenue(spec, SimConfig())


# -- capacity: growth between messages, never inside one -------------------------------------
def test_many_orders_and_a_wide_sweep_grow_the_arrays() -> None:
    # 700 resting bids (orders, ids, levels and responses all beyond the initial room), a
    # 1500-level snapshot crossing them all, then a taker walking 600 levels
    pr = Pair(SPEC, SimConfig())
    pr.market(Kind.BOOK_SNAPSHOT, 0, 0, -1, [(BID, 2000, 5), (ASK, 5000, 5)])
    for i in range(700):
        pr.send(OrderAction(ActionType.PLACE, SPEC.id, f"b{i}", BID, 3000 + i, 2), MS)
    pr.market(Kind.BOOK_DELTA, 20 * MS, 0, -1, [(ASK, 6000, 1)])
    pr.poll(20 * MS)
    assert len(pr.fast.open_orders()) == 700
    rows = [(ASK, 3000 + i, 1) for i in range(1500)] + [(BID, 1000, 3)]
    pr.market(Kind.BOOK_SNAPSHOT, 21 * MS, 0, -1, rows)
    pr.send(OrderAction(ActionType.PLACE, SPEC.id, "t", BID, 9000, 900, post_only=False), 22 * MS)
    pr.market(Kind.BOOK_DELTA, 40 * MS, 0, -1, [(ASK, 6000, 2)])
    pr.poll(100 * MS)
    pr.check_state()
    # the crossing asks (1 lot each, ascending) fill the highest open bid at or above them:
    # after k rows the best open bid is 3699 - k // 2, so rows 3000..3466 fill (467 lots);
    # the taker then takes one lot from each of 900 of the 1033 untouched asks
    st = pr.ref.stats
    assert (st.maker_fills, st.maker_qty, st.taker_fills, st.taker_qty) == (467, 467, 900, 900)
    assert len(pr.fast.st.orders) > 700 and len(pr.fast.st.out) > 2_000


def _events(kind: int, recv: int, rows: list[tuple[int, int, int]]) -> np.ndarray:
    ev = np.zeros(len(rows), EVENT_DTYPE)
    ev["kind"], ev["recv_ts"], ev["exch_ts"], ev["seq"] = kind, recv, recv, -1
    for i, (side, price, qty) in enumerate(rows):
        ev[i]["side"], ev[i]["price"], ev[i]["qty"] = side, price, qty
    return ev


def test_njit_api_refuses_a_message_without_room_then_resumes() -> None:
    """The loop's contract: sim_fits before a message; without room sim_on_market sets
    ERR_CAPACITY and changes nothing; after grow_sim the same message gives the
    reference's responses."""
    sim = new_sim(SPEC, SimConfig())
    book = CompiledBook()
    book.set(BID, 1000, 5)
    book.set(ASK, 1005, 5)
    acts = np.zeros(300, ACTION_DTYPE)
    for i in range(300):  # 300 bids of 5 lots, 30 at each price 990..999
        acts[i] = (ActionType.PLACE, i, BID, 990 + i % 10, 5, True, False, -1, False,
                   0, 0, 0, 0, 0.0, 0.0, 0.0, -1)  # fmt: skip
        sim_send(sim, acts, i, 0)
    assert sim.rec[0]["err"] == 0
    ev = _events(Kind.BOOK_DELTA, 10 * MS, [(ASK, 2000, 1)])
    if not sim_fits(sim, book.st, ev, 0, 1):  # 300 places: maybe 300 new levels
        sim = grow_sim(sim)
    sim_on_market(sim, book.st, ev, 0, 1)
    assert sim.rec[0]["err"] == 0 and int(sim.rec[0]["n_orders"]) == 300
    sweep = _events(Kind.BOOK_DELTA, 11 * MS, [(ASK, 990 + i, 150) for i in range(10)])
    assert not sim_fits(sim, book.st, sweep, 0, 10)  # 300 orders x 10 crossing rows
    before = [a.copy() for a in sim]
    sim_on_market(sim, book.st, sweep, 0, 10)
    assert sim.rec[0]["err"] == ERR_CAPACITY
    sim.rec[0]["err"] = 0
    assert all(np.array_equal(a, b) for a, b in zip(sim[1:], before[1:], strict=True))
    assert np.array_equal(sim.rec, before[0])
    sim = grow_sim(sim)
    assert sim_fits(sim, book.st, sweep, 0, 10)
    sim_on_market(sim, book.st, sweep, 0, 10)
    assert sim.rec[0]["err"] == 0
    # poll into a small buffer: at most its length per call, the rest on the next calls
    buf = np.zeros(64, RESPONSE_DTYPE)
    got = []
    while n := sim_poll(sim, 100 * MS, buf, 4):
        assert n <= 60
        got.extend(buf[4 : 4 + n].tolist())
    assert sim_next_response_ts(sim) == NO_TS
    # asks from 990 up fill the best bids at or above them: 990 the 30 bids at 999, ...,
    # 994 those at 995; at 995 and above no open bid is left at or above the ask
    fills = [r for r in got if r[0]]
    assert [(r[4], r[5]) for r in fills] == [(p, 5) for p in range(999, 994, -1) for _ in range(30)]
    assert len(got) == 300 + 2 * 150 and int(sim.rec[0]["position"]) == 750


def test_quiet_path_is_the_general_path() -> None:
    """sim_on_market_quiet (the short cut taken when sim_quiet) leaves exactly the state the
    general path leaves, over random messages with the venue going quiet and busy again."""
    rng = np.random.default_rng(8)
    cfg = SimConfig(md_latency="recorded")
    general, fast = new_sim(SPEC, cfg), new_sim(SPEC, cfg)
    book = CompiledBook()
    acts = np.zeros(1, ACTION_DTYPE)
    out = np.zeros(64, RESPONSE_DTYPE)
    t, cid, quiet_seen, busy_seen = 0, 0, 0, 0
    for step in range(3_000):
        t += int(rng.integers(1, 3)) * MS
        kind = int(rng.choice([Kind.BOOK_DELTA, Kind.TRADE, Kind.BBO, Kind.FEED_RESET, 1],
                              p=[0.4, 0.2, 0.3, 0.05, 0.05]))  # fmt: skip
        n = 2 if kind == Kind.BBO else int(rng.integers(1, 4))
        rows = [(int(rng.choice((BID, ASK))), 995 + int(rng.integers(0, 11)),
                 int(rng.integers(0, 9))) for _ in range(n)]  # fmt: skip
        ev = _events(kind, t, rows)
        ev["seq"] = -1 if rng.random() < 0.4 else step - int(rng.integers(0, 6))  # out of order
        ev["exch_ts"] = 0 if rng.random() < 0.1 else t - int(rng.integers(0, 5)) * MS
        _on_market_full(general, book.st, ev, 0, n)
        if sim_quiet(fast):
            quiet_seen += 1
            sim_on_market_quiet(fast.rec, ev, 0, n)
        else:
            busy_seen += 1
            sim_on_market(fast, book.st, ev, 0, n)
        for a, b in zip(general, fast, strict=True):
            assert np.array_equal(a, b)
        if kind in (Kind.BOOK_SNAPSHOT, Kind.FEED_RESET):
            book.clear()
        if kind in (Kind.BOOK_SNAPSHOT, Kind.BOOK_DELTA):
            for side, price, qty in rows:
                book.set(side, price, qty)
        if step % 50 == 0:  # a post-only order now and then, canceled 50 messages later
            cid += 1
            acts[0] = (ActionType.PLACE, cid, int(rng.choice((BID, ASK))), 1000, 2, True,
                       False, -1, False, 0, 0, 0, 0, 0.0, 0.0, 0.0, -1)  # fmt: skip
            for sim in (general, fast):
                sim_send(sim, acts, 0, t)
        elif step % 50 == 25:
            acts[0]["type"] = ActionType.CANCEL_ALL
            for sim in (general, fast):
                sim_send(sim, acts, 0, t)
        for sim in (general, fast):
            while sim_poll(sim, t, out, 0):
                pass
    assert quiet_seen > 500 and busy_seen > 500
    assert int(general.rec[0]["placed"]) > 20 and int(general.rec[0]["err"]) == 0


# -- errors ----------------------------------------------------------------------------------
def test_send_backwards_raises_and_changes_nothing() -> None:
    v = CompiledSimVenue(SPEC, SimConfig())
    v.send(OrderAction(ActionType.PLACE, SPEC.id, "a", BID, 1000, 2), 10 * MS)
    with pytest.raises(ValueError, match=f"send at local_ts {9 * MS} is before the previous"):
        v.send(OrderAction(ActionType.PLACE, SPEC.id, "b", BID, 1000, 2), 9 * MS)
    assert v.stats.actions == 1
    v.send(OrderAction(ActionType.PLACE, SPEC.id, "b", BID, 1000, 2), 10 * MS)  # still usable
    assert v.stats.actions == 2


def test_fee_beyond_int64_is_a_clear_error() -> None:
    # the reference's Python ints grow without bound; the kernel refuses to wrap
    spec = InstrumentSpec("sim", "BIG", Decimal("1"), Decimal("1"))
    for venue, book in ((SimVenue(spec, SimConfig()), L2Book()),
                        (CompiledSimVenue(spec, SimConfig()), CompiledBook())):  # fmt: skip
        book.set(ASK, 10**9, 10**9)
        venue.send(OrderAction(ActionType.PLACE, spec.id, "t", BID, 10**9, 10**9, False), 0)
        m = Message(Kind.BOOK_DELTA, 0, 1, 10 * MS, 0, 1, -1, -1, -1, [(BID, 1, 1)])
        if isinstance(venue, SimVenue):
            venue.on_market(m, book)  # type: ignore[arg-type]
            (fill, _upd) = venue.poll(100 * MS)
            assert fill.fee == 10**18 * 45_000  # type: ignore[union-attr]
        else:
            with pytest.raises(MMError, match="left int64"):
                venue.on_market(m, book)


def test_quantity_beyond_float_exactness_is_a_clear_error() -> None:
    # the queue model mixes ints and floats; above 2**53 lots float64 is no longer exact
    v, book = CompiledSimVenue(SPEC, SimConfig()), CompiledBook()
    book.set(BID, 1000, 5)
    book.set(ASK, 1002, 5)
    v.send(OrderAction(ActionType.PLACE, SPEC.id, "b", BID, 1000, 2), 0)
    v.on_market(Message(Kind.BOOK_DELTA, 0, 1, 10 * MS, 0, 1, -1, -1, -1, [(ASK, 1003, 1)]), book)
    assert list(v.open_orders()) == ["b"]
    huge = Message(Kind.TRADE, 0, 1, 11 * MS, 0, 2, -1, -1, -1, [(ASK, 1000, 2**53 + 1)])
    with pytest.raises(MMError, match=r"beyond 2\*\*53 lots"):
        v.on_market(huge, book)


def test_unrepresentable_action_is_refused() -> None:
    v = CompiledSimVenue(SPEC, SimConfig())
    with pytest.raises(ValueError, match="order qty 9223372036854775808 does not fit"):
        v.send(OrderAction(ActionType.PLACE, SPEC.id, "a", BID, 1000, 2**63), 0)


def test_reference_book_is_refused() -> None:
    v = CompiledSimVenue(SPEC, SimConfig())
    m = Message(Kind.BOOK_DELTA, 0, 1, 0, 0, 1, -1, -1, -1, [(BID, 1, 1)])
    with pytest.raises(TypeError, match=r"needs a core\.l2book_kernel\.CompiledBook"):
        v.on_market(m, L2Book())


def test_known_sig_fig_instruments_build() -> None:
    for sym in ("BTC", "ETH", "SOL"):
        spec = known_instrument("hyperliquid", sym)
        assert spec is not None
        sim = new_sim(spec, SimConfig())
        assert bool(sim.rec[0]["sig"]) and int(sim.rec[0]["n_sig"]) >= 19
