"""Import of tardis.dev CSV files: the data type is told by each file's header.

``timestamp`` (the exchange's time) becomes ``exch_ts`` and ``local_timestamp`` (when
tardis received the message) ``recv_ts``, both microseconds -> ns, so feed latency stays
measurable. A file must be sorted by ``local_timestamp`` and hold one exchange; either
fault refuses the whole file (nothing is imported), a bad row is skipped and counted.
"""

from __future__ import annotations

from collections.abc import Callable

from connectors.capture import SpecResolver
from connectors.csv_loader import CsvLoader, Output, RowReader, parse_units, us_to_ns
from connectors.rows import ROW_BITS, Parsed, book_rows
from connectors.tardis.book import BookAssembler
from connectors.tardis.exchanges import venue_for
from connectors.tardis.schema import KINDS, detect_kind, looks_like_tardis
from core.errors import DataFormatError, MalformedLine
from core.events import ASK, BID, BUY, SELL, Kind
from operators.book.sync import SYNC_RULES, SnapshotOnlySync

_BOOK_SIDES = {"bid": BID, "ask": ASK}
_TRADE_SIDES = {"buy": BUY, "sell": SELL}
_SNAPSHOT = {"true": True, "false": False}
BOOK_KINDS = ("incremental_book_L2", "book_snapshot_25")


class TardisLoader(CsvLoader):
    format_name = "tardis"

    def __init__(self, resolve_spec: SpecResolver) -> None:
        super().__init__(resolve_spec)
        self._name = ""
        self.kind = ""
        self._col: dict[str, int] = {}
        self._exchange: str | None = None
        self._venue = ""
        self._last_recv = -1
        self._book: BookAssembler | None = None
        self._snap_seq: dict[tuple[str, str], int] = {}  # book_snapshot_25: last seq per file
        self._book_kind: dict[tuple[str, str], str] = {}  # instrument -> its book data type
        self._claimed: set[str] = set()  # symbols whose book type this file has checked
        self._fast_symbol: str | None = None  # the symbol _l2_fast reads (its cached parsers)
        self._fast_price: Callable[[str], int | None] = {}.get
        self._fast_qty: Callable[[str], int | None] = {}.get
        self.kinds: set[str] = set()
        self._unanchored = 0
        self._one_sided = 0

    @staticmethod
    def sniff(header: list[str]) -> bool:
        return looks_like_tardis(header)

    def start_file(self, name: str, header: list[str]) -> RowReader:
        self._name = name
        self.kind, self._col = detect_kind(header, name)
        self.kinds.add(self.kind)
        self._exchange = None
        self._last_recv = -1
        self._book = None
        self._snap_seq = {}
        self._claimed = set()
        self._fast_symbol = None
        if header == list(KINDS["incremental_book_L2"]):
            return self._l2_fast
        return self.row

    def _l2_fast(self, line_no: int, f: list[str]) -> Output:
        """``row`` for a book file in tardis' column order: the common row in a few
        steps; anything unusual (a new symbol, a bad value) takes ``row``, which names it."""
        try:
            exchange, symbol, exch_text, recv_text, snap_text, side_text, price_text, amount = f
        except ValueError:
            return self.row(line_no, f)
        if (
            symbol != self._fast_symbol
            or exchange != self._exchange
            or len(recv_text) > 16
            or len(exch_text) > 16
            or not recv_text.isdigit()
            or not exch_text.isdigit()
        ):
            return self.row(line_no, f)
        recv = int(recv_text) * 1000
        price = self._fast_price(price_text)
        qty = self._fast_qty(amount)
        side = _BOOK_SIDES.get(side_text)
        snapshot = _SNAPSHOT.get(snap_text)
        if (
            recv < self._last_recv
            or price is None
            or qty is None
            or side is None
            or snapshot is None
        ):
            return self.row(line_no, f)
        self._last_recv = recv
        assert self._book is not None
        exch = int(exch_text) * 1000
        done = self._book.add(line_no, symbol, recv, exch, snapshot, (side, price, qty))
        if done is None:
            return []
        parsed = self._book.rows(symbol, done)
        return [] if parsed is None else [(self._venue, parsed)]

    def _check(self, line_no: int, fields: list[str]) -> tuple[str, int, int]:
        """(symbol, recv ns, exch ns) of a row; file-level faults raise DataFormatError."""
        c = self._col
        try:
            exchange, symbol = fields[0], fields[1]
            recv_text, exch_text = fields[c["local_timestamp"]], fields[c["timestamp"]]
        except IndexError:
            raise MalformedLine(f"row has {len(fields)} columns") from None
        if exchange != self._exchange:
            if self._exchange is not None:
                raise DataFormatError(
                    f"{self._name} line {line_no}: exchange {exchange!r} after {self._exchange!r}",
                    "a tardis file holds one exchange; import each exchange's files separately",
                )
            self._venue = venue_for(exchange, f"{self._name} line {line_no}")
            self._exchange = exchange
            snapshot_only = SYNC_RULES.get(self._venue) is SnapshotOnlySync
            if self.kind == "incremental_book_L2":
                self._book = BookAssembler(snapshot_only)
        if not symbol:
            raise MalformedLine("empty symbol")
        recv = us_to_ns(recv_text, "local_timestamp")
        if recv < self._last_recv:
            raise DataFormatError(
                f"{self._name} line {line_no}: local_timestamp {recv_text} is earlier than "
                f"the row before ({self._last_recv // 1000})",
                "tardis files are sorted by local_timestamp; re-download the file "
                "(nothing was imported)",
            )
        self._last_recv = recv
        return symbol, recv, us_to_ns(exch_text, "timestamp")

    def _claim_book(self, symbol: str) -> None:
        key = (self._venue, symbol)
        have = self._book_kind.setdefault(key, self.kind)
        if have != self.kind:
            raise DataFormatError(
                f"{self._name}: {self.kind} for {self._venue}:{symbol}, "
                f"which this import also reads from {have}",
                "import one book data type per instrument (incremental_book_L2 is complete)",
            )

    def row(self, line_no: int, fields: list[str]) -> Output:
        symbol, recv, exch = self._check(line_no, fields)
        kind = self.kind
        if kind == "incremental_book_L2":
            return self._book_row(line_no, symbol, recv, exch, fields)
        if kind == "trades":
            return [(self._venue, self._trade(line_no, symbol, recv, exch, fields))]
        if kind == "quotes":
            return self._quote(line_no, symbol, recv, exch, fields)
        return [(self._venue, self._snapshot25(line_no, symbol, recv, exch, fields))]

    def _book_row(self, line_no: int, symbol: str, recv: int, exch: int, f: list[str]) -> Output:
        c = self._col
        spec = self.spec(self._venue, symbol)
        snapshot = _SNAPSHOT.get(f[c["is_snapshot"]])
        if snapshot is None:
            raise MalformedLine(f"is_snapshot {f[c['is_snapshot']]!r} is not true/false")
        side = _BOOK_SIDES.get(f[c["side"]])
        if side is None:
            raise MalformedLine(f"book side {f[c['side']]!r} is not bid/ask")
        price = parse_units(spec.price_parser, f[c["price"]], "price")
        qty = parse_units(spec.size_parser, f[c["amount"]], "amount")
        if symbol not in self._claimed:
            self._claim_book(symbol)
            self._claimed.add(symbol)
        if self._fast_symbol != symbol:  # the fast path takes this symbol's next rows
            self._fast_symbol = symbol
            self._fast_price = spec.price_parser.cache.get
            self._fast_qty = spec.size_parser.cache.get
        assert self._book is not None
        done = self._book.add(line_no, symbol, recv, exch, snapshot, (side, price, qty))
        if done is None:
            return []
        parsed = self._book.rows(symbol, done)
        return [] if parsed is None else [(self._venue, parsed)]

    def _trade(self, line_no: int, symbol: str, recv: int, exch: int, f: list[str]) -> Parsed:
        c = self._col
        spec = self.spec(self._venue, symbol)
        side = _TRADE_SIDES.get(f[c["side"]])
        if side is None:
            raise MalformedLine(f"trade side {f[c['side']]!r} is not buy/sell")
        price_text, amount_text = f[c["price"]], f[c["amount"]]
        price = parse_units(spec.price_parser, price_text, "price")
        qty = parse_units(spec.size_parser, amount_text, "amount")
        trade_id = f[c["id"]] or f"tardis:{exch}:{recv}:{side}:{price_text}:{amount_text}"
        return Parsed(
            symbol, [], [(recv, exch, line_no << ROW_BITS, trade_id, price, qty, side)], []
        )

    def _quote(self, line_no: int, symbol: str, recv: int, exch: int, f: list[str]) -> Output:
        c = self._col
        texts = [f[c[k]] for k in ("bid_price", "bid_amount", "ask_price", "ask_amount")]
        if not all(texts):
            self._one_sided += 1
            return []  # an empty side: no best bid/offer to record
        spec = self.spec(self._venue, symbol)
        px, sz = spec.price_parser, spec.size_parser
        bp, bq = parse_units(px, texts[0], "bid_price"), parse_units(sz, texts[1], "bid_amount")
        ap, aq = parse_units(px, texts[2], "ask_price"), parse_units(sz, texts[3], "ask_amount")
        # no update id: -line keeps rows of one instant apart (bbo key: recv, exch, seq)
        # and negative, so nothing aligns it with the book's message chain
        row = (recv, exch, line_no << ROW_BITS, -line_no, bp, bq, ap, aq)
        return [(self._venue, Parsed(symbol, [], [], [row]))]

    def _snapshot25(self, line_no: int, symbol: str, recv: int, exch: int, f: list[str]) -> Parsed:
        c = self._col
        spec = self.spec(self._venue, symbol)
        self._claim_book(symbol)
        levels = []
        for side, name in ((BID, "bids"), (ASK, "asks")):
            for i in range(25):
                p_text, a_text = f[c[f"{name}[{i}].price"]], f[c[f"{name}[{i}].amount"]]
                if not p_text:
                    break  # fewer than 25 levels on this side
                levels.append(
                    (
                        side,
                        parse_units(spec.price_parser, p_text, f"{name}[{i}].price"),
                        parse_units(spec.size_parser, a_text, f"{name}[{i}].amount"),
                    )
                )
        chain = self._snap_seq.get((self._venue, symbol), -1)
        seq = max(recv, chain + 1)
        self._snap_seq[(self._venue, symbol)] = seq
        rows = book_rows(recv, exch, line_no, seq, -1, -1, Kind.BOOK_SNAPSHOT, levels)
        return Parsed(symbol, rows, [], [])

    def end_file(self) -> list[tuple[int, str, Parsed | MalformedLine]]:
        out: list[tuple[int, str, Parsed | MalformedLine]] = []
        if self._book is not None:
            for symbol, p in self._book.held():
                parsed = self._book.rows(symbol, p)
                if parsed is not None:
                    out.append((p.line_no, self._venue, parsed))
            self._unanchored += self._book.unanchored
            self._book = None
        return out

    def notes(self) -> list[str]:
        notes = [
            "tardis: recv_ts = local_timestamp, exch_ts = timestamp (microseconds); "
            "book seq/prev_seq are a per-file message chain (tardis has no update ids)"
        ]
        if self._unanchored:
            notes.append(
                f"tardis: {self._unanchored:,} book message(s) came before their file's first "
                "snapshot and cannot be chained: the replayed book is out of sync until a snapshot"
            )
        if self._one_sided:
            notes.append(f"tardis: {self._one_sided:,} one-sided quote row(s) skipped")
        return notes
