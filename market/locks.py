"""Row locks of the market: the seller's user row, then the listing (core/locks.py has the global order)."""

from django.contrib.auth import get_user_model

from core.locks import rows_lock
from market.models import MarketListing


def seller_lock(*, seller_id: int) -> None:
    """Lock the seller's user row: parallel listing creations by one seller queue on it (the open-listing cap)."""
    get_user_model().objects.select_for_update().filter(pk=seller_id).values_list("pk").first()


def listing_lock(*, listing_id: int) -> MarketListing | None:
    return next(iter(rows_lock(MarketListing, [listing_id])), None)
