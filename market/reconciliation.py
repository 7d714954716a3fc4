"""Reconciliation of open listings against what they rest on: item locks and ledger holds.

One statement per direction: what a listing on sale should hold, and what is held for a
listing that is no longer on sale. A lock reference is compared with `locked_by` as text
cast on both sides, so MariaDB compares them in one collation (the column's differs from a cast's).
"""

from django.db.models import CharField, Exists, OuterRef, Value
from django.db.models.functions import Cast, Concat

from core.reconciliation import discrepancy
from items.locks import MARKET_HOLDER
from items.selectors import items_locked
from ledger.selectors import holds_open
from market.models import HOLD_BUSINESS_TYPE, ListingStatus, ListingType, MarketListing


def _text(expression):
    return Cast(expression, output_field=CharField())


def _listing_lock_reference():
    return Concat(Value(MARKET_HOLDER.prefix), _text("pk"))


def market_locks_match_listings() -> list[dict]:
    """Every item locked by "market:…" is held by that on-sale listing of that item, and every
    item listing on sale holds its item's lock."""
    holder = (
        MarketListing.objects.filter(
            listing_type=ListingType.ITEM, status=ListingStatus.ON_SALE, item_instance_id=OuterRef("pk")
        )
        .annotate(reference=_listing_lock_reference())
        .filter(reference=OuterRef("reference"))
    )
    orphan_locks = (
        items_locked(holder_prefix=MARKET_HOLDER.prefix)
        .annotate(reference=_text("locked_by"))
        .exclude(Exists(holder))
        .order_by("pk")
        .values_list("pk", "locked_by")
    )
    unlocked_listings = (
        MarketListing.objects.filter(listing_type=ListingType.ITEM, status=ListingStatus.ON_SALE)
        .annotate(reference=_listing_lock_reference())
        .exclude(
            Exists(
                items_locked(holder_prefix=MARKET_HOLDER.prefix)
                .annotate(reference=_text("locked_by"))
                .filter(pk=OuterRef("item_instance_id"), reference=OuterRef("reference"))
            )
        )
        .order_by("pk")
        .values_list("pk", "item_instance_id", "item_instance__status", "item_instance__locked_by")
    )
    return [
        discrepancy(
            "item_lock_has_live_holder",
            item_id=item_id,
            expected="an item listing of this item on sale, named by locked_by",
            actual={"locked_by": locked_by},
        )
        for item_id, locked_by in orphan_locks
    ] + [
        discrepancy(
            "live_holder_has_item_locked",
            listing_id=listing_id,
            item_id=item_id,
            expected={"status": "locked", "locked_by": MARKET_HOLDER.holder(listing_id)},
            actual={"status": status, "locked_by": locked_by},
        )
        for listing_id, item_id, status, locked_by in unlocked_listings
    ]


def asset_listings_match_holds() -> list[dict]:
    """Every asset listing on sale rests on an open hold of exactly its remaining quantity, and
    every open hold created for a listing belongs to a listing on sale."""
    mismatched = (
        MarketListing.objects.filter(listing_type=ListingType.ASSET, status=ListingStatus.ON_SALE)
        .exclude(
            Exists(
                holds_open(business_type=HOLD_BUSINESS_TYPE).filter(
                    pk=OuterRef("hold_id"), remaining=OuterRef("quantity_remaining")
                )
            )
        )
        .order_by("pk")
        .values_list("pk", "quantity_remaining", "hold_id", "hold__status", "hold__remaining")
    )
    listing_on_sale = MarketListing.objects.filter(hold_id=OuterRef("pk"), status=ListingStatus.ON_SALE)
    orphan_holds = (
        holds_open(business_type=HOLD_BUSINESS_TYPE)
        .exclude(Exists(listing_on_sale))
        .order_by("pk")
        .values_list("pk", "entry__business_id", "remaining")
    )
    return [
        discrepancy(
            "listing_matches_open_hold",
            listing_id=listing_id,
            hold_id=hold_id,
            expected={"hold_status": "open", "remaining": remaining},
            actual={"hold_status": hold_status, "remaining": hold_remaining},
        )
        for listing_id, remaining, hold_id, hold_status, hold_remaining in mismatched
    ] + [
        discrepancy(
            "open_hold_has_listing_on_sale",
            hold_id=hold_id,
            listing_id=business_id,
            expected="a listing on sale resting on this hold",
            actual={"remaining": remaining},
        )
        for hold_id, business_id, remaining in orphan_holds
    ]
