"""Bybit V5 ``retCode`` (and HTTP status) -> exactly one action.

The gateway acts on RETRY, BACKOFF and RESYNC (clock) itself; RECONCILE, REDUCE, HALT
and the other RESYNCs reach the trader inside the REJECTED update's reason, which
starts with the action's value (``"reconcile: ..."``). An unknown code halts: a
code nobody has thought about is not safe to trade through.
docs/bybit-errors.md holds the same table for humans (a test keeps them in sync).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from core.errors import MMError


class ErrorAction(StrEnum):
    RETRY = "retry"  # transient: resend the same request after a short jittered delay
    BACKOFF = "backoff"  # rate limited: wait until the venue's reset time, then resend
    RESYNC = "resync"  # our reference data is stale (clock, book, instrument spec)
    RECONCILE = "reconcile"  # our order/position view disagrees with the venue: re-read it
    REDUCE = "reduce"  # margin/position limits: shrink or stop adding exposure
    HALT = "halt"  # credentials, permissions, bans, malformed requests: stop trading


@dataclass(frozen=True, slots=True)
class ErrorRule:
    code: int
    meaning: str
    action: ErrorAction
    why: str


_A = ErrorAction
_RULES = (
    ErrorRule(-1, "request expired", _A.RESYNC, "clock drift: widen recv window, resend"),
    ErrorRule(429, "trading service under high load", _A.RETRY, "the venue asks for a retry"),
    ErrorRule(10000, "server timeout", _A.RETRY, "transient; client ids make resends idempotent"),
    ErrorRule(10001, "request parameter error", _A.HALT, "we built a request the venue cannot accept: a bug or changed rules"),
    ErrorRule(10002, "request time outside the recv window", _A.RESYNC, "clock drift: widen recv window, resend once"),
    ErrorRule(10003, "API key invalid (or key of another environment)", _A.HALT, "credentials wrong; nothing will work"),
    ErrorRule(10004, "signature error", _A.HALT, "secret wrong or signing broken"),
    ErrorRule(10005, "permission denied for this key", _A.HALT, "key lacks trade permission"),
    ErrorRule(10006, "too many visits (UID rate limit)", _A.BACKOFF, "wait until X-Bapi-Limit-Reset-Timestamp"),
    ErrorRule(10007, "user authentication failed", _A.HALT, "credentials wrong"),
    ErrorRule(10008, "common banned / account mode", _A.HALT, "account restricted"),
    ErrorRule(10009, "IP banned", _A.HALT, "banned; a human must act"),
    ErrorRule(10010, "unmatched IP (key bound to other IPs)", _A.HALT, "key/IP binding wrong"),
    ErrorRule(10014, "invalid duplicate request", _A.RECONCILE, "an earlier copy may have succeeded"),
    ErrorRule(10016, "server error / service restarting", _A.RETRY, "transient"),
    ErrorRule(10017, "route not found", _A.HALT, "wrong base URL or path"),
    ErrorRule(10018, "IP rate limit exceeded", _A.BACKOFF, "wait for the reset"),
    ErrorRule(10024, "compliance rules triggered", _A.HALT, "account restricted"),
    ErrorRule(10027, "transactions are banned", _A.HALT, "account restricted"),
    ErrorRule(10029, "symbol not in the key's whitelist", _A.HALT, "key scope wrong"),
    ErrorRule(33004, "API key expired", _A.HALT, "credentials expired"),
    ErrorRule(40004, "order modified while being replaced", _A.RECONCILE, "order state changed under us"),
    ErrorRule(110001, "order does not exist", _A.RECONCILE, "filled or cancelled meanwhile: order not found"),
    ErrorRule(110003, "order price outside the allowed range", _A.RESYNC, "our book is stale: resync it"),
    ErrorRule(110004, "wallet balance insufficient", _A.REDUCE, "no funds for more exposure"),
    ErrorRule(110006, "assets cannot cover the position margin", _A.REDUCE, "margin exhausted"),
    ErrorRule(110007, "available balance insufficient", _A.REDUCE, "margin exhausted: quote smaller"),
    ErrorRule(110008, "order already completed or cancelled", _A.RECONCILE, "order not found among open orders"),
    ErrorRule(110010, "order already cancelled", _A.RECONCILE, "order not found among open orders"),
    ErrorRule(110012, "insufficient available balance", _A.REDUCE, "margin exhausted"),
    ErrorRule(110017, "reduce-only rule not satisfied", _A.RECONCILE, "our position view is stale"),
    ErrorRule(110019, "order id illegal", _A.RECONCILE, "id mapping disagrees with the venue"),
    ErrorRule(110020, "more than 500 active orders", _A.RECONCILE, "leftover orders: find and cancel them"),
    ErrorRule(110021, "position limit due to open interest", _A.REDUCE, "venue caps our position"),
    ErrorRule(110022, "quantity restricted: cannot increase", _A.REDUCE, "venue caps our size"),
    ErrorRule(110023, "contract is reduce-only for now", _A.REDUCE, "only reducing is allowed"),
    ErrorRule(110063, "settlement in progress", _A.BACKOFF, "wait, then resend"),
    ErrorRule(110064, "amended qty not above filled qty", _A.RECONCILE, "fills we have not seen yet"),
    ErrorRule(110066, "trading currently not allowed", _A.HALT, "venue or symbol halted"),
    ErrorRule(110072, "orderLinkId duplicate", _A.RECONCILE, "an earlier send succeeded: look the order up"),
    ErrorRule(110079, "order is being processed", _A.RETRY, "transient"),
    ErrorRule(110090, "position may exceed the max limit", _A.REDUCE, "venue caps our position"),
    ErrorRule(110094, "order notional below the minimum", _A.RESYNC, "instrument spec changed: refresh it"),
    ErrorRule(170213, "order does not exist (spot)", _A.RECONCILE, "order not found among open orders"),
)  # fmt: skip

ERROR_TABLE: dict[int, ErrorRule] = {r.code: r for r in _RULES}

# HTTP statuses that come without a JSON retCode.
HTTP_STATUS_TABLE: dict[int, ErrorRule] = {
    r.code: r
    for r in (
        ErrorRule(400, "bad request", _A.HALT, "malformed request"),
        ErrorRule(401, "invalid request / key", _A.HALT, "credentials wrong"),
        ErrorRule(403, "IP rate limit breached or forbidden region", _A.HALT, "venue says wait >= 10 min"),
        ErrorRule(404, "path not found", _A.HALT, "wrong base URL or category"),
        ErrorRule(429, "system frequency protection", _A.RETRY, "venue asks for a retry"),
        ErrorRule(500, "server error", _A.RETRY, "transient"),
        ErrorRule(502, "bad gateway", _A.RETRY, "transient"),
        ErrorRule(503, "service unavailable", _A.RETRY, "transient"),
        ErrorRule(504, "gateway timeout", _A.RETRY, "transient"),
    )
}  # fmt: skip

# retCodes after which the order is gone from the venue's open orders.
ORDER_GONE = frozenset({110001, 110008, 110010, 170213})


def action_for(code: int) -> ErrorAction:
    """The one action for a retCode; unknown codes halt."""
    rule = ERROR_TABLE.get(code)
    return rule.action if rule is not None else ErrorAction.HALT


def action_for_http(status: int) -> ErrorAction:
    rule = HTTP_STATUS_TABLE.get(status)
    if rule is not None:
        return rule.action
    return ErrorAction.RETRY if status >= 500 else ErrorAction.HALT


def reject_reason(code: int, msg: str) -> str:
    """``"<action>: <what> (bybit <code> <msg>)"``: the trader keys on the prefix."""
    action = action_for(code)
    what = (
        "order not found"
        if code in ORDER_GONE
        else (ERROR_TABLE[code].meaning if code in ERROR_TABLE else "unknown error")
    )
    return f"{action.value}: {what} (bybit {code} {msg})".strip()


def action_of_reason(reason: str) -> ErrorAction | None:
    """The ErrorAction a REJECTED update's reason starts with, if any."""
    head, sep, _ = reason.partition(":")
    if not sep:
        return None
    try:
        return ErrorAction(head)
    except ValueError:
        return None


class BybitError(MMError):
    """A Bybit response the caller cannot treat as success."""

    def __init__(self, code: int, msg: str, action: ErrorAction | None = None) -> None:
        self.code = code
        self.ret_msg = msg
        self.action = action if action is not None else action_for(code)
        super().__init__(f"bybit error {code}: {msg}", f"action: {self.action.value}")


class BybitTransportError(MMError):
    """No usable JSON answer: network failure or an HTTP error status."""

    def __init__(self, message: str, status: int | None, action: ErrorAction) -> None:
        self.status = status
        self.action = action
        super().__init__(message, f"action: {action.value}")


def markdown_table() -> str:
    """The error table as Markdown (docs/bybit-errors.md embeds exactly this)."""
    lines = ["| retCode | meaning | action | why |", "|---:|---|---|---|"]
    lines += [f"| {r.code} | {r.meaning} | {r.action.value} | {r.why} |" for r in _RULES]
    lines += ["", "| HTTP status | meaning | action | why |", "|---:|---|---|---|"]
    lines += [
        f"| {r.code} | {r.meaning} | {r.action.value} | {r.why} |"
        for r in HTTP_STATUS_TABLE.values()
    ]
    return "\n".join(lines)
