"""A Binance COIN-M (inverse) BTCUSD_PERP capture derived from the bundled USD-M one.

    .venv/bin/python -m bench.derive_coinm OUT.gz [--lines N]

No COIN-M capture ships with the project; this turns the real USD-M BTCUSDT recording
into the shape COIN-M sends: the symbol and stream names renamed (``BTCUSD_PERP``,
``btcusd_perp@...``), the ``ps`` pair field added where COIN-M has it (depthUpdate,
bookTicker; the REST snapshot names ``symbol`` and ``pair``), and every quantity of
q BTC at price p turned into whole contracts of 100 USD, ``max(1, round(q x p / 100))``
(0 stays 0: a level delete). Receive times, exchange times and update ids are kept, so
the diff chain and the book-ticker check hold as in the original.
"""

from __future__ import annotations

import argparse
import gzip
import sys
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any

import orjson

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "data" / "sample" / "binance-usdm_btcusdt_20240808.gz"
SYMBOL, PAIR, CONTRACT_USD = "BTCUSD_PERP", "BTCUSD", Decimal(100)
_WITH_PAIR = ("depthUpdate", "bookTicker")  # COIN-M adds "ps" to these


def contracts(qty: str, price: str) -> str:
    """q BTC at p -> whole contracts: ``max(1, round(q x p / 100))``, 0 stays 0."""
    q = Decimal(qty)
    if q == 0:
        return "0"
    n = (q * Decimal(price) / CONTRACT_USD).to_integral_value(rounding=ROUND_HALF_EVEN)
    return str(max(1, int(n)))


def _levels(levels: list[list[str]]) -> list[list[str]]:
    return [[p, contracts(q, p)] for p, q in levels]


def _data(d: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in d.items():
        if key == "s":
            out["s"] = SYMBOL
            if d.get("e") in _WITH_PAIR:
                out["ps"] = PAIR
        elif key in ("b", "a") and isinstance(value, list):
            out[key] = _levels(value)
        else:
            out[key] = value
    event = d.get("e")
    if event == "bookTicker":
        out["B"] = contracts(d["B"], d["b"])
        out["A"] = contracts(d["A"], d["a"])
    elif event in ("trade", "aggTrade"):
        out["q"] = contracts(d["q"], d["p"])
    return out


def derive_message(msg: dict[str, Any]) -> dict[str, Any]:
    """One USD-M message (stream envelope or REST snapshot) in its COIN-M form."""
    if "lastUpdateId" in msg:
        out: dict[str, Any] = {"lastUpdateId": msg["lastUpdateId"], "symbol": SYMBOL, "pair": PAIR}
        for key, value in msg.items():
            if key in ("bids", "asks"):
                out[key] = _levels(value)
            elif key != "lastUpdateId":
                out[key] = value
        return out
    if "stream" in msg:
        stream = str(msg["stream"])
        _, sep, rest = stream.partition("@")
        return {"stream": SYMBOL.lower() + sep + rest, "data": _data(msg["data"])}
    return _data(msg)


def derive(src: Path, dst: Path, lines: int | None = None) -> int:
    """Write the COIN-M form of ``src`` (``<recv ns> <json>`` lines, gzip) to ``dst``."""
    n = 0
    tmp = dst.with_name(dst.name + ".part")
    with gzip.open(src, "rb") as fin, gzip.open(tmp, "wb", compresslevel=1) as fout:
        for line in fin:
            if lines is not None and n >= lines:
                break
            recv, _, body = line.strip().partition(b" ")
            if not body:
                continue
            fout.write(recv + b" " + orjson.dumps(derive_message(orjson.loads(body))) + b"\n")
            n += 1
    tmp.replace(dst)  # never a half-written capture under the final name
    return n


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--source", type=Path, default=SAMPLE)
    ap.add_argument("--lines", type=int, default=None, help="only the first N lines")
    args = ap.parse_args(argv)
    n = derive(args.source, args.out, args.lines)
    print(f"{args.out}: {n:,} lines of {SYMBOL}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
