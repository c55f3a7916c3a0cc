"""Hyperliquid: codec and recorded-data import (l2Book + trades)."""
