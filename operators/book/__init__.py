"""L2 order book per instrument with each venue's sync rules."""

from core.l2book import ASK, BID, L2Book
from operators.book.sync import BookStats, BookSync, SyncState, book_sync_for

__all__ = ["ASK", "BID", "BookStats", "BookSync", "L2Book", "SyncState", "book_sync_for"]
