"""Hyperliquid exchange errors -> exactly one action (the ErrorAction of connectors/bybit).

Hyperliquid has no error codes: a failure is text, in three places. A per-order
``{"error": "..."}`` in ``response.data.statuses``, a top-level
``{"status": "err", "response": "..."}`` for the whole action, or an HTTP status (429 =
the IP's weight budget is spent). Rules match a fragment of the text; the first match
wins; unknown text halts (a message nobody has thought about is not safe to trade
through). The REJECTED update's reason starts with the action's value
(``"reconcile: order not found (hyperliquid: ...)"``); an ALO that would cross says
``"post-only: ..."`` so the trader forgets the order and re-prices from the book it
has on its next decision (the gateway does not retry: the book has moved).
"""

from __future__ import annotations

from dataclasses import dataclass

from connectors.bybit.errors import ErrorAction
from connectors.hyperliquid import rest
from core.errors import MMError

POST_ONLY = "Post only order would have immediately matched"
ADDRESS_LIMIT = "Too many cumulative requests sent"


@dataclass(frozen=True, slots=True)
class ErrorRule:
    fragment: str  # matched case-insensitively inside the venue's text
    meaning: str
    action: ErrorAction
    why: str


_A = ErrorAction
_RULES = (
    ErrorRule(ADDRESS_LIMIT, "address request allowance exhausted", _A.BACKOFF, "1 request per 10 s until volume buys more"),
    ErrorRule("Order was never placed, already canceled, or filled", "order not found", _A.RECONCILE, "filled or cancelled meanwhile"),
    ErrorRule("Cannot modify canceled or filled order", "order not found", _A.RECONCILE, "filled or cancelled meanwhile"),
    ErrorRule("Order not found", "order not found", _A.RECONCILE, "filled or cancelled meanwhile"),
    ErrorRule("cloid", "duplicate client order id", _A.RECONCILE, "an earlier send got through: look it up"),
    ErrorRule("Reduce only order would increase position", "reduce-only rule not satisfied", _A.RECONCILE, "our position view is stale"),
    ErrorRule("Insufficient margin", "insufficient margin", _A.REDUCE, "no margin for more exposure"),
    ErrorRule("Open interest is at cap", "open interest cap", _A.REDUCE, "venue caps new exposure"),
    ErrorRule("minimum value of $10", "order value below 10 USDC", _A.RESYNC, "size from a stale price: re-read the book"),
    ErrorRule("too far from", "price too far from the oracle", _A.RESYNC, "our book is stale"),
    ErrorRule("Too many open orders", "open order limit", _A.RECONCILE, "leftover orders: find and cancel them"),
    ErrorRule("nonce", "nonce rejected", _A.RESYNC, "clock drift: a fresh nonce is needed"),
    ErrorRule("tick size", "price off the venue's grid", _A.HALT, "we built a price the venue cannot accept"),
    ErrorRule("invalid price", "price off the venue's grid", _A.HALT, "we built a price the venue cannot accept"),
    ErrorRule("invalid size", "size off the venue's grid", _A.HALT, "we built a size the venue cannot accept"),
    ErrorRule("does not exist", "unknown user or API wallet", _A.HALT, "key or account address wrong; nothing will work"),
    ErrorRule("signature", "signature not accepted", _A.HALT, "key wrong or signing broken"),
    ErrorRule("Trading is halted", "trading halted", _A.HALT, "venue or asset halted"),
    ErrorRule("Scheduled cancel time too early", "dead man's switch time too early", _A.RESYNC, "our clock is behind the venue's: the next beat asks for later"),
    ErrorRule("Too many cancel triggers", "dead man's switch spent for today", _A.HALT, "10 firings a day: nothing cancels our orders if we hang"),
)  # fmt: skip

HTTP_ACTIONS: dict[int, ErrorAction] = {
    429: _A.BACKOFF,  # IP weight budget (1200/min) spent
    422: _A.HALT,  # the venue could not parse our body: a bug
    400: _A.HALT,
    401: _A.HALT,
    403: _A.HALT,
    404: _A.HALT,
}


def rule_for(text: str) -> ErrorRule | None:
    low = text.lower()
    for r in _RULES:
        if r.fragment.lower() in low:
            return r
    return None


def action_for(text: str) -> ErrorAction:
    """The one action for a venue error text; unknown text halts."""
    rule = rule_for(text)
    return rule.action if rule is not None else ErrorAction.HALT


def action_for_http(status: int) -> ErrorAction:
    if status in HTTP_ACTIONS:
        return HTTP_ACTIONS[status]
    return ErrorAction.RETRY if status >= 500 else ErrorAction.HALT


def is_post_only_reject(text: str) -> bool:
    return POST_ONLY.lower() in text.lower()


def reject_reason(text: str) -> str:
    """``"<action>: <what> (hyperliquid: <text>)"``; the trader keys on the prefix and
    on "post-only" / "not found" inside."""
    if is_post_only_reject(text):
        return f"post-only: would cross, re-price from the current book (hyperliquid: {text})"
    rule = rule_for(text)
    what = rule.meaning if rule is not None else "unknown error"
    return f"{action_for(text).value}: {what} (hyperliquid: {text})"


class HyperliquidError(MMError):
    """A whole action the venue refused (top-level ``err``)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.action = action_for(text)
        super().__init__(f"hyperliquid error: {text}", f"action: {self.action.value}")


class HyperliquidTransportError(rest.HyperliquidTransportError):
    """No usable JSON answer: network failure or an HTTP error status (with the action;
    a subclass of the /info client's error, so one ``except`` catches both)."""

    def __init__(self, message: str, status: int | None, action: ErrorAction) -> None:
        self.status = status
        self.action = action
        super().__init__(message, f"action: {action.value}")


def markdown_table() -> str:
    """The rule table as Markdown (docs/hyperliquid-live.md embeds exactly this)."""
    lines = ["| venue text contains | meaning | action | why |", "|---|---|---|---|"]
    lines += [f"| `{r.fragment}` | {r.meaning} | {r.action.value} | {r.why} |" for r in _RULES]
    lines += ["", "| HTTP status | action |", "|---:|---|"]
    lines += [f"| {s} | {a.value} |" for s, a in HTTP_ACTIONS.items()]
    lines += ["| other 5xx | retry |", "| other | halt |"]
    return "\n".join(lines)
