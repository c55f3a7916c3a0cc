"""Import of Bybit's official trade history (public.bybit.com/trading, ``csv.gz``).

Columns ``timestamp,symbol,side,size,price,tickDirection,trdMatchID,grossValue,
homeNotional,foreignNotional``; ``timestamp`` is the trade time in decimal seconds. The
files carry no local receive time, so ``recv_ts`` is the exchange time: a backtest on
them should set a constant feed latency (``sim.md_latency_ms``, ``mm backtest
--feed-latency-ms``) or it sees each trade the instant it happened.
"""

from __future__ import annotations

from connectors.capture import NO_RECV_NOTE, SpecResolver
from connectors.csv_loader import CsvLoader, Output, RowReader, parse_units, seconds_to_ns
from connectors.rows import ROW_BITS, Parsed
from core.errors import DataFormatError, MalformedLine
from core.events import BUY, SELL

VENUE = "bybit"
COLUMNS = ("timestamp", "symbol", "side", "size", "price", "trdMatchID")
_SIDES = {"Buy": BUY, "Sell": SELL}


class BybitTradesLoader(CsvLoader):
    format_name = "bybit-trades"
    has_recv_time = False

    def __init__(self, resolve_spec: SpecResolver) -> None:
        super().__init__(resolve_spec)
        self._col: dict[str, int] = {}
        self._name = ""

    @staticmethod
    def sniff(header: list[str]) -> bool:
        return header[:5] == ["timestamp", "symbol", "side", "size", "price"]

    def start_file(self, name: str, header: list[str]) -> RowReader:
        missing = [c for c in COLUMNS if c not in header]
        if missing:
            raise DataFormatError(
                f"{name}: Bybit trades header lacks column(s) {', '.join(missing)}",
                f"a Bybit trades file has columns {','.join(COLUMNS)},...",
            )
        self._name = name
        self._col = {c: header.index(c) for c in COLUMNS}
        return self.row

    def row(self, line_no: int, fields: list[str]) -> Output:
        c = self._col
        try:
            ts, symbol, side_text = fields[c["timestamp"]], fields[c["symbol"]], fields[c["side"]]
            size, price, trade_id = fields[c["size"]], fields[c["price"]], fields[c["trdMatchID"]]
        except IndexError:
            raise MalformedLine(f"row has {len(fields)} columns") from None
        side = _SIDES.get(side_text)
        if side is None:
            raise MalformedLine(f"side {side_text!r} is not Buy/Sell")
        if not symbol or not trade_id:
            raise MalformedLine("empty symbol or trdMatchID")
        spec = self.spec(VENUE, symbol)
        exch = seconds_to_ns(ts, "timestamp")
        row = (
            exch,
            exch,
            line_no << ROW_BITS,
            trade_id,
            parse_units(spec.price_parser, price, "price"),
            parse_units(spec.size_parser, size, "size"),
            side,
        )
        return [(VENUE, Parsed(symbol, [], [row], []))]

    def notes(self) -> list[str]:
        return [f"bybit-trades: {NO_RECV_NOTE}"]
