"""Binance USD-M futures: recorded-data import (depth diffs + REST snapshot, trades, bookTicker)."""
