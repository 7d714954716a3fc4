"""Row locks of the market: the listing (the seller's row is core.locks.user_lock; core/locks.py has the order)."""

from core.locks import rows_lock
from market.models import MarketListing


def listing_lock(*, listing_id: int) -> MarketListing | None:
    return next(iter(rows_lock(MarketListing, [listing_id])), None)
