"""Row locks of the market (core/locks.py has the global order; the acting user's row is core.locks.user_lock):
the book of (asset, price asset), then the listings or buy orders the book's matching takes, then a single listing."""

from django.db import connection

from core.locks import rows_lock
from market.models import BuyOrder, BuyOrderStatus, ListingStatus, MarketBook, MarketListing

# How many resting orders one locking read of the other side takes; an order that fills more reads again.
MATCH_BATCH = 50


def listing_lock(*, listing_id: int) -> MarketListing | None:
    return next(iter(rows_lock(MarketListing, [listing_id])), None)


def buy_order_lock(*, buy_order_id: int) -> BuyOrder | None:
    return next(iter(rows_lock(BuyOrder, [buy_order_id])), None)


def book_lock(*, asset_code: str, price_asset_code: str) -> int:
    """Lock the book of (asset, price asset) by writing it, created on first use; return its new version.

    A write, not a locking read: on a Galera cluster `SELECT … FOR UPDATE` locks only on its own node,
    while two writes of the same row on two nodes fail certification at COMMIT and one is retried
    (core.db.atomic_with_retry). The version is the caller's place in the book's time priority.
    """
    table = connection.ops.quote_name(MarketBook._meta.db_table)
    where, params = "asset_code = %s AND price_asset_code = %s", [asset_code, price_asset_code]
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET version = version + 1 WHERE {where}", params)
        if cursor.rowcount == 0:  # a new book: created race-free, then bumped like any other
            MarketBook.objects.bulk_create(
                [MarketBook(asset_id=asset_code, price_asset_id=price_asset_code)], ignore_conflicts=True
            )
            cursor.execute(f"UPDATE {table} SET version = version + 1 WHERE {where}", params)
        cursor.execute(f"SELECT version FROM {table} WHERE {where}", params)
        return cursor.fetchone()[0]


def asks_lock(*, asset_code: str, price_asset_code: str, max_unit_price: int, now) -> list[MarketListing]:
    """The next asks a bid at `max_unit_price` crosses, cheapest first, then oldest, locked (index `listing_book`).

    In priority order, not by primary key: the caller holds the book's lock, so no other transaction locks
    two listings of this book at once, and the order cannot make a cycle.
    """
    return list(
        MarketListing.objects.select_for_update()
        .filter(
            asset_id=asset_code,
            price_asset_id=price_asset_code,
            status=ListingStatus.ON_SALE,
            unit_price__lte=max_unit_price,
            expires_at__gt=now,
        )
        .order_by("unit_price", "book_seq", "pk")[:MATCH_BATCH]
    )


def bids_lock(*, asset_code: str, price_asset_code: str, min_unit_price: int, now) -> list[BuyOrder]:
    """The next bids an ask at `min_unit_price` crosses, highest first, then oldest, locked (index `buy_order_book`)."""
    return list(
        BuyOrder.objects.select_for_update()
        .filter(
            asset_id=asset_code,
            price_asset_id=price_asset_code,
            status=BuyOrderStatus.OPEN,
            max_unit_price__gte=min_unit_price,
            expires_at__gt=now,
        )
        .order_by("-max_unit_price", "book_seq", "pk")[:MATCH_BATCH]
    )
