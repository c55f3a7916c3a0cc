"""tardis.dev CSV datasets (incremental_book_L2, trades, quotes, book_snapshot_25)."""
