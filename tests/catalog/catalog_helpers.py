"""Shared by the catalog tests: the in-process ``mm`` CLI and small capture files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from cli.main import app


def mm(*args: str) -> Any:
    """Run ``mm ARGS`` in this process (stdout and stderr apart)."""
    return CliRunner().invoke(app, list(args))


def mm_json(*args: str) -> Any:
    result = mm(*args, "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def error_line(result: Any) -> str:
    """The one stderr line of a failed command (and nothing on stdout)."""
    assert result.exit_code == 1 and result.stdout == "", (result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def bybit_book_file(path: Path, *symbols_prices: tuple[str, str, str]) -> Path:
    """One Bybit orderbook snapshot line per (symbol, bid, ask); sizes 1000 and 2000."""
    lines = [
        json.dumps(
            {
                "topic": f"orderbook.50.{sym}",
                "type": "snapshot",
                "ts": 1733011200691,
                "data": {"s": sym, "b": [[bid, "1000"]], "a": [[ask, "2000"]], "u": 1, "seq": 100},
                "cts": 1733011200690,
            }
        )
        for sym, bid, ask in symbols_prices
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def binance_depth_file(path: Path, symbol: str, bid: str, ask: str) -> Path:
    msg = {
        "stream": f"{symbol.lower()}@depth@0ms",
        "data": {"e": "depthUpdate", "E": 1723161256299, "T": 1723161256298, "s": symbol,
                 "U": 5123107832006, "u": 5123107837557, "pu": 5123107831937,
                 "b": [[bid, "14"]], "a": [[ask, "3"]]},
    }  # fmt: skip
    path.write_text(f"1723161255030314667 {json.dumps(msg)}\n")
    return path


def hyperliquid_book_file(path: Path, coin: str, bid: str, ask: str) -> Path:
    msg = {
        "channel": "l2Book",
        "data": {"coin": coin, "time": 1737918843800,
                 "levels": [[{"n": 5, "px": bid, "sz": "3000"}], [{"n": 1, "px": ask, "sz": "1200"}]]},
    }  # fmt: skip
    path.write_text(f"1737918843893903000 {json.dumps(msg)}\n")
    return path
