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
# A buy order's hold is created by an entry of business type "market_buy_order" keyed by "<buyer id>:<key>";
# each fill is an entry "market_fill" keyed by "<buy order id>:<listing id>".
BUY_ORDER_HOLD_BUSINESS_TYPE = "market_buy_order"
FILL_BUSINESS_TYPE = "market_fill"


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
    # An asset listing's place in its book's time priority (MarketBook.version when it was listed).
    book_seq = models.BigIntegerField(null=True, blank=True)
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
            # Matching a new buy order: one book's asks in price-time priority (market.locks.asks_lock).
            models.Index(fields=["asset", "price_asset", "status", "unit_price", "book_seq"], name="listing_book"),
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
    # Set when the trade is a fill of a buy order against the listing (at most one per pair).
    buy_order = models.ForeignKey("BuyOrder", null=True, blank=True, on_delete=models.PROTECT, related_name="fills")
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
            models.UniqueConstraint(fields=["buy_order", "listing"], name="trade_unique_fill"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="trade_quantity_positive"),
            models.CheckConstraint(condition=Q(total=F("quantity") * F("unit_price")), name="trade_total_is_price"),
            models.CheckConstraint(condition=Q(fee__gte=0, seller_amount__gte=0), name="trade_parts_not_negative"),
            models.CheckConstraint(condition=Q(total=F("seller_amount") + F("fee")), name="trade_parts_sum_to_total"),
            models.CheckConstraint(condition=~Q(buyer=F("seller")), name="trade_buyer_is_not_seller"),
        ]

    def __str__(self):
        return f"trade {self.pk}: listing {self.listing_id}, {self.quantity} for {self.total} {self.price_asset_id}"


class MarketBook(models.Model):
    """One row per (asset, price asset): the lock every transaction that can cross the book takes.

    Placing a buy order or an asset listing bumps `version` before it reads the other side (class 2 of
    core/locks.py), so two crossing orders queue on it and the second sees the first. On a Galera
    cluster, where a row lock does not reach the other nodes, the write itself makes two such
    transactions conflict at COMMIT, and the loser is retried (core.db.atomic_with_retry).
    """

    asset = models.ForeignKey("ledger.AssetType", on_delete=models.PROTECT, db_column="asset_code", related_name="+")
    price_asset = models.ForeignKey(
        "ledger.AssetType", on_delete=models.PROTECT, db_column="price_asset_code", related_name="+"
    )
    version = models.BigIntegerField(default=0)

    class Meta:
        db_table = "market_books"
        constraints = [
            models.UniqueConstraint(fields=["asset", "price_asset"], name="book_unique_assets"),
            models.CheckConstraint(condition=Q(version__gte=0), name="book_version_not_negative"),
        ]

    def __str__(self):
        return f"book {self.asset_id}/{self.price_asset_id} (v{self.version})"


class BuyOrderStatus(models.TextChoices):
    OPEN = "open", "Open"
    FILLED = "filled", "Filled"
    CANCELLED = "cancelled", "Cancelled"
    EXPIRED = "expired", "Expired"


class BuyOrder(models.Model):
    """A bid: up to `quantity` units of a tradable asset at `max_unit_price` at most, resting on a hold of
    `quantity_remaining * max_unit_price` of the price asset while open."""

    buyer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="market_buy_orders")
    asset = models.ForeignKey("ledger.AssetType", on_delete=models.PROTECT, db_column="asset_code", related_name="+")
    price_asset = models.ForeignKey(
        "ledger.AssetType", on_delete=models.PROTECT, db_column="price_asset_code", related_name="+"
    )
    quantity = models.BigIntegerField()
    quantity_remaining = models.BigIntegerField()
    max_unit_price = models.BigIntegerField()
    hold = models.OneToOneField("ledger.Hold", on_delete=models.PROTECT, related_name="market_buy_order")
    status = models.CharField(max_length=10, choices=BuyOrderStatus.choices, default=BuyOrderStatus.OPEN)
    # The order's place in its book's time priority (MarketBook.version when it was placed).
    book_seq = models.BigIntegerField()
    # The buyer's retry key: placing again with it returns this order.
    idempotency_key = models.CharField(max_length=64)
    expires_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "market_buy_orders"
        permissions = [("cancel_buy_order", "Can cancel another user's buy order")]
        indexes = [
            # Matching a new listing: one book's bids in price-time priority (market.locks.bids_lock).
            models.Index(
                fields=["asset", "price_asset", "status", "-max_unit_price", "book_seq"], name="buy_order_book"
            ),
            models.Index(fields=["status", "expires_at"], name="buy_order_status_expiry"),
            models.Index(fields=["buyer", "status", "id"], name="buy_order_buyer"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["buyer", "idempotency_key"], name="buy_order_unique_buyer_key"),
            models.UniqueConstraint(fields=["asset", "price_asset", "book_seq"], name="buy_order_unique_book_seq"),
            models.CheckConstraint(
                condition=Q(quantity__gt=0, quantity_remaining__gte=0, quantity_remaining__lte=F("quantity")),
                name="buy_order_remaining_in_range",
            ),
            models.CheckConstraint(condition=Q(max_unit_price__gt=0), name="buy_order_price_positive"),
            models.CheckConstraint(condition=~Q(price_asset=F("asset")), name="buy_order_price_asset_differs"),
            models.CheckConstraint(condition=Q(status__in=BuyOrderStatus.values), name="buy_order_status_valid"),
            # Open, cancelled and expired orders have something left; a filled one has nothing left.
            models.CheckConstraint(
                condition=Q(status=BuyOrderStatus.FILLED, quantity_remaining=0)
                | (~Q(status=BuyOrderStatus.FILLED) & Q(quantity_remaining__gt=0)),
                name="buy_order_remaining_matches_status",
            ),
            models.CheckConstraint(
                condition=Q(status=BuyOrderStatus.OPEN, closed_at__isnull=True)
                | (~Q(status=BuyOrderStatus.OPEN) & Q(closed_at__isnull=False)),
                name="buy_order_closed_iff_closed_at",
            ),
        ]

    def __str__(self):
        return (
            f"buy order {self.pk}: {self.quantity_remaining}/{self.quantity} {self.asset_id} "
            f"at ≤ {self.max_unit_price} {self.price_asset_id} ({self.status})"
        )
