from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone

from core.admin_tools import ReadOnlyModelAdmin
from core.errors import BackpackError
from ledger.selectors import asset_codes, assets_tradable
from market.buy_order_services import buy_order_cancel
from market.charts import price_charts
from market.models import BuyOrder, BuyOrderStatus, ListingStatus, MarketListing, MarketTrade
from market.price_selectors import DAY, HOUR, market_summary, order_book
from market.services import listing_cancel

# The chart page's ranges: (label, interval, span).
CHART_RANGES = {
    "24h": ("Last 24 hours, hourly", HOUR, timedelta(hours=24)),
    "7d": ("Last 7 days, hourly", HOUR, timedelta(days=7)),
    "30d": ("Last 30 days, daily", DAY, timedelta(days=30)),
    "365d": ("Last 365 days, daily", DAY, timedelta(days=365)),
}


class PriceChartForm(forms.Form):
    asset = forms.ChoiceField()
    price_asset = forms.ChoiceField(initial="DIAMOND")
    range = forms.ChoiceField(choices=[(key, label) for key, (label, _, _) in CHART_RANGES.items()], initial="30d")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        tradable = list(assets_tradable().values_list("asset_code", flat=True))
        self.fields["asset"].choices = [(code, code) for code in tradable]
        self.fields["asset"].initial = tradable[0] if tradable else None
        self.fields["price_asset"].choices = [(code, code) for code in asset_codes()]


@admin.register(MarketListing)
class MarketListingAdmin(ReadOnlyModelAdmin):
    list_display = (
        "id",
        "seller",
        "listing_type",
        "asset",
        "quantity_remaining",
        "quantity",
        "item_instance",
        "unit_price",
        "price_asset",
        "status",
        "expires_at",
        "created_at",
    )
    list_filter = ("status", "listing_type", "asset", "price_asset", "created_at")
    search_fields = ("=id", "seller__username", "seller__email", "item_instance__name")
    list_select_related = ("seller", "item_instance", "asset", "price_asset")
    actions = ["delist"]

    @admin.action(description="Delist (cancel, releasing the hold or the item lock)", permissions=["delist"])
    def delist(self, request, queryset):
        delisted = 0
        for listing_id in queryset.filter(status=ListingStatus.ON_SALE).order_by("pk").values_list("pk", flat=True):
            try:
                listing_cancel(listing_id=listing_id, actor=request.user)
                delisted += 1
            except BackpackError as exc:
                self.message_user(request, f"Listing {listing_id}: {exc.message}", messages.WARNING)
        self.message_user(request, f"Delisted {delisted} listing(s).", messages.SUCCESS)

    def has_delist_permission(self, request):
        return request.user.has_perm("market.delist_listing")


@admin.register(BuyOrder)
class BuyOrderAdmin(ReadOnlyModelAdmin):
    list_display = (
        "id",
        "buyer",
        "asset",
        "quantity_remaining",
        "quantity",
        "max_unit_price",
        "price_asset",
        "status",
        "expires_at",
        "created_at",
    )
    list_filter = ("status", "asset", "price_asset", "created_at")
    search_fields = ("=id", "buyer__username", "buyer__email")
    list_select_related = ("buyer", "asset", "price_asset")
    actions = ["cancel"]

    @admin.action(description="Cancel (releasing what the hold still has)", permissions=["cancel"])
    def cancel(self, request, queryset):
        cancelled = 0
        for order_id in queryset.filter(status=BuyOrderStatus.OPEN).order_by("pk").values_list("pk", flat=True):
            try:
                buy_order_cancel(buy_order_id=order_id, actor=request.user)
                cancelled += 1
            except BackpackError as exc:
                self.message_user(request, f"Buy order {order_id}: {exc.message}", messages.WARNING)
        self.message_user(request, f"Cancelled {cancelled} buy order(s).", messages.SUCCESS)

    def has_cancel_permission(self, request):
        return request.user.has_perm("market.cancel_buy_order")


@admin.register(MarketTrade)
class MarketTradeAdmin(ReadOnlyModelAdmin):
    list_display = (
        "id",
        "listing",
        "buy_order",
        "buyer",
        "seller",
        "quantity",
        "unit_price",
        "total",
        "fee",
        "seller_amount",
        "price_asset",
        "entry",
        "created_at",
    )
    list_filter = ("price_asset", "listing__listing_type", "created_at")
    search_fields = ("=id", "=listing__id", "buyer__username", "seller__username", "idempotency_key")
    list_select_related = ("listing", "buy_order", "buyer", "seller", "entry", "price_asset")

    def get_urls(self):
        prices = path("prices/", self.admin_site.admin_view(self.prices_view), name="market_markettrade_prices")
        return [prices, *super().get_urls()]

    def prices_view(self, request):
        """A price and volume chart of one asset, with its summary, the highest bids and the cheapest asks."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = PriceChartForm(request.GET or None)
        choice = form.cleaned_data if form.is_valid() else {name: form[name].initial for name in form.fields}
        context = {
            **self.admin_site.each_context(request),
            "title": "Market prices",
            "opts": self.model._meta,
            "form": form,
        }
        if choice["asset"]:
            label, interval, span = CHART_RANGES[choice["range"]]
            now = timezone.now()
            asset, price_asset = choice["asset"], choice["price_asset"]
            summary = market_summary(price_asset_code=price_asset, now=now) if asset != price_asset else []
            context.update(
                range_label=label,
                charts=price_charts(
                    asset_code=asset, price_asset_code=price_asset, interval=interval, since=now - span, until=now
                ),
                summary=next((row for row in summary if row["asset_code"] == asset), None),
                book=order_book(asset_code=asset, price_asset_code=price_asset, depth=10, now=now),
            )
        return TemplateResponse(request, "admin/market/markettrade/prices.html", context)
