"""The player market: listings backed by a ledger hold or an item lock, and one trade per purchase.

Every write goes through `market.services`. The CHECK constraints below keep a listing's
shape and its remaining quantity consistent with its status whatever the code does.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from items.locks import MARKET_HOLDER

# An item listing locks its item (holder kind MARKET_HOLDER); an asset listing's hold is
# created by an entry of business type "market_listing" keyed by the listing id.
HOLD_BUSINESS_TYPE = "market_listing"


class ListingType(models.TextChoices):
    ASSET = "asset", "Asset"
    ITEM = "item", "Item"


class ListingStatus(models.TextChoices):
    ON_SALE = "on_sale", "On sale"
    SOLD = "sold", "Sold"
    CANCELLED = "cancelled", "Cancelled"
    EXPIRED = "expired", "Expired"


class MarketListing(models.Model):
    seller = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="market_listings")
    listing_type = models.CharField(max_length=8, choices=ListingType.choices)
    # An asset listing: what is sold, how much, and the hold that freezes it.
    asset = models.ForeignKey(
        "ledger.AssetType", null=True, blank=True, on_delete=models.PROTECT, db_column="asset_code", related_name="+"
    )
    quantity = models.BigIntegerField(null=True, blank=True)
    quantity_remaining = models.BigIntegerField(null=True, blank=True)
    hold = models.OneToOneField(
        "ledger.Hold", null=True, blank=True, on_delete=models.PROTECT, related_name="market_listing"
    )
    # An item listing: the item, locked with locked_by "market:<listing id>".
    item_instance = models.ForeignKey(
        "items.ItemInstance", null=True, blank=True, on_delete=models.PROTECT, related_name="market_listings"
    )
    price_asset = models.ForeignKey(
        "ledger.AssetType", on_delete=models.PROTECT, db_column="price_asset_code", default="DIAMOND", related_name="+"
    )
    # Per unit of an asset listing; the whole price of an item listing.
    unit_price = models.BigIntegerField()
    status = models.CharField(max_length=10, choices=ListingStatus.choices, default=ListingStatus.ON_SALE)
    expires_at = models.DateTimeField()
    sold_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "market_listings"
        permissions = [("delist_listing", "Can take another user's listing off sale")]
        indexes = [
            models.Index(fields=["status", "unit_price", "id"], name="listing_browse_price"),
            models.Index(fields=["status", "asset", "unit_price"], name="listing_browse_asset"),
            models.Index(fields=["status", "expires_at"], name="listing_status_expiry"),
            models.Index(fields=["seller", "status", "id"], name="listing_seller"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    listing_type=ListingType.ASSET,
                    asset__isnull=False,
                    quantity__gt=0,
                    quantity_remaining__gte=0,
                    quantity_remaining__lte=F("quantity"),
                    item_instance__isnull=True,
                )
                | Q(
                    listing_type=ListingType.ITEM,
                    asset__isnull=True,
                    quantity__isnull=True,
                    quantity_remaining__isnull=True,
                    hold__isnull=True,
                    item_instance__isnull=False,
                ),
                name="listing_is_asset_xor_item",
            ),
            models.CheckConstraint(condition=Q(unit_price__gt=0), name="listing_unit_price_positive"),
            models.CheckConstraint(condition=~Q(price_asset=F("asset")), name="listing_price_asset_differs"),
            models.CheckConstraint(condition=Q(status__in=ListingStatus.values), name="listing_status_valid"),
            models.CheckConstraint(
                condition=Q(status=ListingStatus.SOLD, sold_at__isnull=False)
                | (~Q(status=ListingStatus.SOLD) & Q(sold_at__isnull=True)),
                name="listing_sold_iff_sold_at",
            ),
            # An open asset listing has something left; a sold one has nothing left.
            models.CheckConstraint(
                condition=Q(listing_type=ListingType.ITEM)
                | Q(status=ListingStatus.ON_SALE, quantity_remaining__gt=0)
                | Q(status=ListingStatus.SOLD, quantity_remaining=0)
                | Q(status__in=[ListingStatus.CANCELLED, ListingStatus.EXPIRED]),
                name="listing_remaining_matches_status",
            ),
        ]

    def __str__(self):
        what = (
            f"{self.quantity} {self.asset_id}"
            if self.listing_type == ListingType.ASSET
            else f"item {self.item_instance_id}"
        )
        return f"listing {self.pk}: {what} at {self.unit_price} {self.price_asset_id} ({self.status})"

    @property
    def lock_reference(self) -> str:
        return MARKET_HOLDER.holder(self.pk)


class MarketTrade(models.Model):
    """One purchase: what changed hands, for how much, and the ledger entry that moved it."""

    listing = models.ForeignKey(MarketListing, on_delete=models.PROTECT, related_name="trades")
    buyer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="market_purchases")
    seller = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="market_sales")
    quantity = models.BigIntegerField()
    unit_price = models.BigIntegerField()
    price_asset = models.ForeignKey(
        "ledger.AssetType", on_delete=models.PROTECT, db_column="price_asset_code", related_name="+"
    )
    total = models.BigIntegerField()
    fee = models.BigIntegerField()
    seller_amount = models.BigIntegerField()
    entry = models.OneToOneField("ledger.JournalEntry", on_delete=models.PROTECT, related_name="market_trade")
    # The buyer's retry key: the same key returns this trade instead of buying again.
    idempotency_key = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "market_trades"
        indexes = [
            models.Index(fields=["buyer", "id"], name="trade_buyer"),
            models.Index(fields=["seller", "id"], name="trade_seller"),
            models.Index(fields=["created_at"], name="trade_time"),  # the dashboard's last 24 hours
            # Price history and the summary: one price asset's trades in a time range (market.price_selectors).
            models.Index(fields=["price_asset", "created_at"], name="trade_price_time"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["buyer", "idempotency_key"], name="trade_unique_buyer_key"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="trade_quantity_positive"),
            models.CheckConstraint(condition=Q(total=F("quantity") * F("unit_price")), name="trade_total_is_price"),
            models.CheckConstraint(condition=Q(fee__gte=0, seller_amount__gte=0), name="trade_parts_not_negative"),
            models.CheckConstraint(condition=Q(total=F("seller_amount") + F("fee")), name="trade_parts_sum_to_total"),
            models.CheckConstraint(condition=~Q(buyer=F("seller")), name="trade_buyer_is_not_seller"),
        ]

    def __str__(self):
        return f"trade {self.pk}: listing {self.listing_id}, {self.quantity} for {self.total} {self.price_asset_id}"
