"""Bybit V5: codec, recorded-data import, and (live) public/private sources and order gateway."""
