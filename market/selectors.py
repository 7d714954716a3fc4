"""Reads of the market for the API and the admin: plain dicts, one query per page."""

from datetime import datetime

from django.db.models import Count, F, Q, QuerySet, Sum
from django.utils import timezone

from ledger.selectors import EntryParties
from market.exceptions import BuyOrderNotFound, ListingNotFound
from market.models import BuyOrder, ListingStatus, MarketListing, MarketTrade

LISTING_FIELDS = {
    "asset_code": F("asset_id"),
    "item_type": F("item_instance__item_type"),
    "item_name": F("item_instance__name"),
    "price_asset_code": F("price_asset_id"),
}
LISTING_COLUMNS = (
    "id",
    "seller_id",
    "listing_type",
    "quantity",
    "quantity_remaining",
    "item_instance_id",
    "unit_price",
    "status",
    "expires_at",
    "sold_at",
    "created_at",
    "updated_at",
)
TRADE_FIELDS = {
    "listing_type": F("listing__listing_type"),
    "asset_code": F("listing__asset_id"),
    "item_instance_id": F("listing__item_instance_id"),
    "price_asset_code": F("price_asset_id"),
}
TRADE_COLUMNS = (
    "id",
    "listing_id",
    "buy_order_id",
    "buyer_id",
    "seller_id",
    "quantity",
    "unit_price",
    "total",
    "fee",
    "seller_amount",
    "entry_id",
    "created_at",
)


def _listing_rows(queryset) -> QuerySet:
    return queryset.values(*LISTING_COLUMNS, **LISTING_FIELDS)


def listings_on_sale(
    *,
    listing_type: str | None = None,
    asset_code: str | None = None,
    item_type: str | None = None,
    min_price: int | None = None,
    max_price: int | None = None,
) -> QuerySet:
    """Listings anyone may buy now, filtered; the caller (the paginator) orders them."""
    listings = MarketListing.objects.filter(status=ListingStatus.ON_SALE, expires_at__gt=timezone.now())
    if listing_type:
        listings = listings.filter(listing_type=listing_type)
    if asset_code:
        listings = listings.filter(asset_id=asset_code)
    if item_type:
        listings = listings.filter(item_instance__item_type=item_type)
    if min_price is not None:
        listings = listings.filter(unit_price__gte=min_price)
    if max_price is not None:
        listings = listings.filter(unit_price__lte=max_price)
    return _listing_rows(listings)


def listing_get(*, listing_id: int, user_id: int) -> dict:
    """One listing as `user_id` may see it: on sale, or theirs as seller or buyer; else not found."""
    visible = Q(status=ListingStatus.ON_SALE) | Q(seller_id=user_id) | Q(trades__buyer_id=user_id)
    row = _listing_rows(MarketListing.objects.filter(visible, pk=listing_id)).first()
    if row is None:
        raise ListingNotFound(listing_id=listing_id)
    return row


def listing_detail(*, listing_id: int) -> dict:
    """One listing, whoever asks: for answers right after the caller changed it."""
    return _listing_rows(MarketListing.objects.filter(pk=listing_id)).get()


def listings_for_seller(*, seller_id: int, status: str | None = None) -> QuerySet:
    listings = MarketListing.objects.filter(seller_id=seller_id)
    if status:
        listings = listings.filter(status=status)
    return _listing_rows(listings)


def trades_for_user(*, user_id: int) -> QuerySet:
    """The user's trades, as buyer or as seller."""
    trades = MarketTrade.objects.filter(Q(buyer_id=user_id) | Q(seller_id=user_id))
    return trades.values(*TRADE_COLUMNS, **TRADE_FIELDS)


def trade_get(*, trade_id: int) -> dict:
    return MarketTrade.objects.filter(pk=trade_id).values(*TRADE_COLUMNS, **TRADE_FIELDS).get()


def trade_totals_by_price_asset(*, since: datetime | None = None) -> list[dict]:
    """Trades, their total and their fees per price asset (since a time, or ever): one grouped query."""
    trades = MarketTrade.objects.all() if since is None else MarketTrade.objects.filter(created_at__gte=since)
    return list(
        trades.values(price_asset_code=F("price_asset_id"))
        .annotate(trades=Count("id"), total=Sum("total"), fees=Sum("fee"))
        .order_by("price_asset_code")
    )


def trade_parties(entry_ids: list[int]) -> dict[int, EntryParties]:
    """{entry id: buyer and seller} of the trades these purchase entries moved: one query (ledger.selectors)."""
    trades = MarketTrade.objects.filter(entry_id__in=entry_ids).values_list(
        "entry_id", "buyer_id", "buyer__username", "seller_id", "seller__username"
    )
    return {entry_id: EntryParties(*parties) for entry_id, *parties in trades}


BUY_ORDER_FIELDS = {"asset_code": F("asset_id"), "price_asset_code": F("price_asset_id")}
BUY_ORDER_COLUMNS = (
    "id",
    "buyer_id",
    "quantity",
    "quantity_remaining",
    "max_unit_price",
    "status",
    "expires_at",
    "closed_at",
    "created_at",
    "updated_at",
)


def _buy_order_rows(queryset) -> QuerySet:
    return queryset.values(*BUY_ORDER_COLUMNS, **BUY_ORDER_FIELDS)


def buy_orders_for_buyer(*, buyer_id: int, status: str | None = None) -> QuerySet:
    orders = BuyOrder.objects.filter(buyer_id=buyer_id)
    if status:
        orders = orders.filter(status=status)
    return _buy_order_rows(orders)


def buy_order_get(*, buy_order_id: int, buyer_id: int) -> dict:
    """One of the buyer's orders; anybody else's is as good as missing."""
    row = _buy_order_rows(BuyOrder.objects.filter(pk=buy_order_id, buyer_id=buyer_id)).first()
    if row is None:
        raise BuyOrderNotFound(buy_order_id=buy_order_id)
    return row


def trades_get(*, trade_ids: list[int]) -> list[dict]:
    """These trades, in the order given: one query."""
    rows = {
        row["id"]: row for row in MarketTrade.objects.filter(pk__in=trade_ids).values(*TRADE_COLUMNS, **TRADE_FIELDS)
    }
    return [rows[pk] for pk in trade_ids]


def trade_made_with_key(*, buyer_id: int, idempotency_key: str) -> bool:
    """Whether the buyer made a trade with this key (the demo seeds its history once)."""
    return MarketTrade.objects.filter(buyer_id=buyer_id, idempotency_key=idempotency_key).exists()
