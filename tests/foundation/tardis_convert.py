"""A Binance USD-M capture -> tardis.dev CSV files, following tardis' published format.

Written with ``json`` and plain strings only (none of the project's codecs), so an
import of the result checks the tardis reader against an independent reading.

tardis for binance-futures emits the REST depth snapshot as ``is_snapshot=true`` rows,
then each depth diff's levels as rows sharing the diff's ``local_timestamp``; diffs
received before the snapshot are applied after it when their ``u >= lastUpdateId``
(Binance's rule) and dropped otherwise. Times are microseconds: ``timestamp`` is the
exchange's (``T``, else ``E``), ``local_timestamp`` the receive time.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

BOOK_HEADER = "exchange,symbol,timestamp,local_timestamp,is_snapshot,side,price,amount"
TRADES_HEADER = "exchange,symbol,timestamp,local_timestamp,id,side,price,amount"
QUOTES_HEADER = (
    "exchange,symbol,timestamp,local_timestamp,ask_amount,ask_price,bid_price,bid_amount"
)
EXCHANGE = "binance-futures"


def _rows(exch_us: int, local_us: int, snapshot: bool, d: dict, bids: str, asks: str) -> list[str]:
    symbol = d.get("s", "")
    flag = "true" if snapshot else "false"
    out = []
    for side, key in (("bid", bids), ("ask", asks)):
        for price, amount in d[key]:
            out.append(f"{EXCHANGE},{symbol},{exch_us},{local_us},{flag},{side},{price},{amount}")
    return out


def convert_binance(capture: Path, out_dir: Path, gz: bool = False) -> dict[str, Path]:
    """Write ``incremental_book_L2``, ``trades`` and ``quotes`` CSVs; their paths."""
    book, trades, quotes = [BOOK_HEADER], [TRADES_HEADER], [QUOTES_HEADER]
    buffered: list[tuple[int, int, dict]] = []
    snapshot_seen = False
    symbol = ""
    with gzip.open(capture, "rb") as fh:
        for line in fh:
            if not line.strip():
                continue
            head, _, rest = line.partition(b" ")
            local_us = int(head) // 1000
            msg = json.loads(rest)
            if "lastUpdateId" in msg:
                last_id = msg["lastUpdateId"]
                snap = dict(msg, s=symbol)
                exch_us = int(msg.get("T", msg.get("E", local_us // 1000))) * 1000
                book += _rows(exch_us, local_us, True, snap, "bids", "asks")
                for exch_b, _, d in buffered:
                    if d["u"] >= last_id:  # tardis applies these right after the snapshot
                        book += _rows(exch_b, local_us, False, d, "b", "a")
                buffered.clear()
                snapshot_seen = True
                continue
            d = msg.get("data", msg)
            event = d.get("e")
            symbol = d.get("s", symbol)
            exch_us = int(d.get("T", d.get("E"))) * 1000
            if event == "depthUpdate":
                if snapshot_seen:
                    book += _rows(exch_us, local_us, False, d, "b", "a")
                else:
                    buffered.append((exch_us, local_us, d))
            elif event == "trade":
                side = "sell" if d["m"] else "buy"
                trades.append(
                    f"{EXCHANGE},{d['s']},{exch_us},{local_us},{d['t']},{side},{d['p']},{d['q']}"
                )
            elif event == "bookTicker":
                quotes.append(
                    f"{EXCHANGE},{d['s']},{exch_us},{local_us},{d['A']},{d['a']},{d['b']},{d['B']}"
                )
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, rows in (("incremental_book_L2", book), ("trades", trades), ("quotes", quotes)):
        path = out_dir / f"{EXCHANGE}_{name}_2024-08-08_{symbol}.csv{'.gz' if gz else ''}"
        data = ("\n".join(rows) + "\n").encode()
        path.write_bytes(gzip.compress(data, 1) if gz else data)
        paths[name] = path
    return paths


def _write(path: Path, rows: list[str]) -> Path:
    path.write_text("\n".join(rows) + "\n")
    return path


def convert_bybit(download: Path, out_dir: Path) -> Path:
    """A Bybit order-book download -> ``incremental_book_L2`` (exchange ``bybit``).

    The download has no receive time: ``local_timestamp`` is the message's ``ts``.
    A ``snapshot`` message's levels are ``is_snapshot=true`` rows, a ``delta``'s are
    ``false`` rows (size 0 deletes, as in tardis)."""
    book = [BOOK_HEADER]
    with gzip.open(download, "rb") as fh:
        for line in fh:
            if not line.strip():
                continue
            msg = json.loads(line)
            d = msg["data"]
            us = int(msg["ts"]) * 1000
            snap = msg["type"] == "snapshot"
            book += [r.replace(EXCHANGE, "bybit") for r in _rows(us, us, snap, d, "b", "a")]
    out_dir.mkdir(parents=True, exist_ok=True)
    return _write(out_dir / "bybit_incremental_book_L2.csv", book)


def convert_hyperliquid(capture: Path, out_dir: Path) -> tuple[Path, Path]:
    """A Hyperliquid capture -> ``incremental_book_L2`` and ``trades`` (``hyperliquid``).

    Hyperliquid sends whole books; tardis publishes the first as a snapshot and then
    each book's changes from the one before (a level gone: amount 0)."""
    book, trades = [BOOK_HEADER], [TRADES_HEADER]
    prev: dict[tuple[str, str], str] | None = None
    with gzip.open(capture, "rb") as fh:
        for line in fh:
            if not line.strip():
                continue
            head, _, rest = line.partition(b" ")
            local_us = int(head) // 1000
            msg = json.loads(rest)
            d = msg["data"]
            if msg["channel"] == "trades":
                for t in d:
                    side = "buy" if t["side"] == "B" else "sell"
                    trades.append(
                        f"hyperliquid,{t['coin']},{t['time'] * 1000},{local_us},{t['tid']},"
                        f"{side},{t['px']},{t['sz']}"
                    )
                continue
            exch_us = int(d["time"]) * 1000
            bids, asks = d["levels"]
            now = {("bid", lv["px"]): lv["sz"] for lv in bids}
            now.update({("ask", lv["px"]): lv["sz"] for lv in asks})
            pre = f"hyperliquid,{d['coin']},{exch_us},{local_us}"
            if prev is None:
                book += [f"{pre},true,{s},{px},{sz}" for (s, px), sz in now.items()]
            else:
                book += [
                    f"{pre},false,{s},{px},{sz}"
                    for (s, px), sz in now.items()
                    if prev.get((s, px)) != sz
                ]
                book += [f"{pre},false,{s},{px},0" for (s, px) in prev if (s, px) not in now]
            prev = now
    out_dir.mkdir(parents=True, exist_ok=True)
    return (
        _write(out_dir / "hyperliquid_incremental_book_L2.csv", book),
        _write(out_dir / "hyperliquid_trades.csv", trades),
    )
