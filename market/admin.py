from django.contrib import admin, messages

from core.admin_tools import ReadOnlyModelAdmin
from core.errors import BackpackError
from market.models import ListingStatus, MarketListing, MarketTrade
from market.services import listing_cancel


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


@admin.register(MarketTrade)
class MarketTradeAdmin(ReadOnlyModelAdmin):
    list_display = (
        "id",
        "listing",
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
    list_select_related = ("listing", "buyer", "seller", "entry", "price_asset")
