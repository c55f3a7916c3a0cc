"""Queue-position models: how much displayed quantity is ahead of a resting order.

Following hftbacktest (``RiskAdverseQueueModel``, ``ProbQueueModel`` with
``PowerProbQueueFunc`` / ``LogProbQueueFunc``). Common to all models:

* join: an order joins the BACK of its level, ``ahead = displayed qty`` at arrival.
* trade at the order's price (aggressor on the other side): the venue walks the level in
  time priority; the traded quantity first removes market quantity in front of each of
  our orders (``ahead -= eaten``, never below 0), then fills it. Every order at the
  price also records ``cum_trade += trade qty`` (the recorded level will shrink by it).

Depth update of the level from ``prev`` to ``new`` displayed lots (``depth`` below):

* risk_averse: ``ahead = min(ahead, new)``. Only trades advance the order; a shrinking
  level caps it (whoever left, at most ``new`` lots can still be in front).
* power / log: ``chg = prev - new - cum_trade`` (the part of the decrease not explained
  by trades already counted), ``cum_trade = 0``. If ``chg < 0`` (the level grew):
  ``ahead = min(ahead, new)``. Otherwise, with ``front = ahead``, ``back = prev - front``
  and ``p = f(back) / (f(back) + f(front))`` (the probability that a cancel came from
  behind us; f(x) = x**n or log(1 + x); p = 1 when both are 0)::

      ahead = min(front - (1 - p) * chg + min(back - p * chg, 0), new)

  i.e. the expected value: a share ``1 - p`` of the unexplained decrease came from in
  front, and whatever exceeds the quantity behind us also came from in front.
  One deviation from hftbacktest: ``ahead`` is floored at 0 (hftbacktest lets it go
  negative, which would let a cancel elsewhere in the queue fill us on a later trade).

Deterministic: the probabilistic models use the expected value, no random draws.
"""

from __future__ import annotations

import math

from connectors.sim.config import SimConfig
from connectors.sim.state import SimOrder


class RiskAverseQueue:
    """Queue advances only by trades at the price; depth decreases only cap it."""

    name = "risk_averse"

    def depth(self, order: SimOrder, prev_qty: int, new_qty: int) -> None:
        order.cum_trade = 0
        if order.ahead > new_qty:
            order.ahead = new_qty


class ProbQueue:
    """Unexplained level decreases are split between front and back by ``prob``."""

    name = "prob"

    def prob(self, front: float, back: float) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def depth(self, order: SimOrder, prev_qty: int, new_qty: int) -> None:
        chg = prev_qty - new_qty - order.cum_trade
        order.cum_trade = 0
        if chg < 0:
            if order.ahead > new_qty:
                order.ahead = new_qty
            return
        front = order.ahead
        back = max(prev_qty - front, 0.0)
        p = self.prob(front, back)
        est = front - (1.0 - p) * chg + min(back - p * chg, 0.0)
        if est > new_qty:
            est = new_qty
        order.ahead = est if est > 1e-9 else 0


class PowerQueue(ProbQueue):
    """f(x) = x ** n; ``p = f(back) / (f(back) + f(front))``, computed overflow-free."""

    name = "power"

    def __init__(self, n: float) -> None:
        self.n = n

    def prob(self, front: float, back: float) -> float:
        if back <= 0:
            return 1.0 if front <= 0 else 0.0
        if front <= 0:
            return 1.0
        # f(b) / (f(b) + f(f)) = 1 / (1 + (front / back) ** n)
        r = self.n * (math.log(front) - math.log(back))
        if r > 700:
            return 0.0
        return 1.0 / (1.0 + math.exp(r))


class LogQueue(ProbQueue):
    """f(x) = log(1 + x); ``p = f(back) / (f(back) + f(front))``."""

    name = "log"

    def prob(self, front: float, back: float) -> float:
        fb = math.log1p(back)
        ff = math.log1p(front)
        total = fb + ff
        return fb / total if total > 0 else 1.0


QueueModel = RiskAverseQueue | PowerQueue | LogQueue


def queue_model_for(config: SimConfig) -> QueueModel:
    if config.queue_model == "power":
        return PowerQueue(config.queue_power)
    if config.queue_model == "log":
        return LogQueue()
    return RiskAverseQueue()
