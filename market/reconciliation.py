"""Reconciliation of open listings against what they rest on: item locks and ledger holds.

One statement per direction: what a listing on sale should hold, and what is held for a
listing that is no longer on sale. A lock reference is compared with `locked_by` as text
cast on both sides, so MariaDB compares them in one collation (the column's differs from a cast's).
"""

from django.db.models import CharField, Exists, F, Max, Min, OuterRef, Value
from django.db.models.functions import Cast, Concat
from django.utils import timezone

from core.reconciliation import discrepancy
from items.locks import MARKET_HOLDER
from items.selectors import items_locked
from ledger.selectors import holds_open
from market.models import (
    BUY_ORDER_HOLD_BUSINESS_TYPE,
    HOLD_BUSINESS_TYPE,
    BuyOrder,
    BuyOrderStatus,
    ListingStatus,
    ListingType,
    MarketListing,
)


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


def book_not_crossed() -> list[dict]:
    """Per (asset, price asset), the highest open bid is below the lowest ask on sale (both unexpired): a
    crossed book means two orders that should have filled rest side by side. Two grouped queries."""
    now = timezone.now()
    bids = (
        BuyOrder.objects.filter(status=BuyOrderStatus.OPEN, expires_at__gt=now)
        .values_list("asset_id", "price_asset_id")
        .annotate(best=Max("max_unit_price"))
        .order_by()
    )
    asks = (
        MarketListing.objects.filter(listing_type=ListingType.ASSET, status=ListingStatus.ON_SALE, expires_at__gt=now)
        .values_list("asset_id", "price_asset_id")
        .annotate(best=Min("unit_price"))
        .order_by()
    )
    lowest_ask = {(asset, price): best for asset, price, best in asks}
    return [
        discrepancy(
            "book_not_crossed",
            asset_code=asset,
            price_asset_code=price,
            expected="the highest bid below the lowest ask",
            actual={"highest_bid": bid, "lowest_ask": lowest_ask[(asset, price)]},
        )
        for asset, price, bid in sorted(bids)
        if (asset, price) in lowest_ask and bid >= lowest_ask[(asset, price)]
    ]


def open_bids_match_frozen() -> list[dict]:
    """Every open buy order rests on an open hold of exactly `quantity_remaining * max_unit_price`, and every
    open hold created for a buy order belongs to an open one."""
    mismatched = (
        BuyOrder.objects.filter(status=BuyOrderStatus.OPEN)
        .exclude(
            Exists(
                holds_open(business_type=BUY_ORDER_HOLD_BUSINESS_TYPE).filter(
                    pk=OuterRef("hold_id"), remaining=OuterRef("quantity_remaining") * OuterRef("max_unit_price")
                )
            )
        )
        .order_by("pk")
        .values_list("pk", "hold_id", "hold__status", "hold__remaining", F("quantity_remaining") * F("max_unit_price"))
    )
    order_open = BuyOrder.objects.filter(hold_id=OuterRef("pk"), status=BuyOrderStatus.OPEN)
    orphan_holds = (
        holds_open(business_type=BUY_ORDER_HOLD_BUSINESS_TYPE)
        .exclude(Exists(order_open))
        .order_by("pk")
        .values_list("pk", "entry__business_id", "remaining")
    )
    return [
        discrepancy(
            "open_bid_matches_frozen",
            buy_order_id=order_id,
            hold_id=hold_id,
            expected={"hold_status": "open", "remaining": held},
            actual={"hold_status": hold_status, "remaining": hold_remaining},
        )
        for order_id, hold_id, hold_status, hold_remaining, held in mismatched
    ] + [
        discrepancy(
            "open_hold_has_open_bid",
            hold_id=hold_id,
            business_id=business_id,
            expected="an open buy order resting on this hold",
            actual={"remaining": remaining},
        )
        for hold_id, business_id, remaining in orphan_holds
    ]
