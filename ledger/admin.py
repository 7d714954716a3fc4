from django.contrib import admin

from core.admin_tools import ReadOnlyModelAdmin, ReadOnlyTabularInline
from ledger.models import Account, AssetType, Balance, BalanceAudit, Hold, IssuanceLimit, JournalEntry, JournalLeg


@admin.register(AssetType)
class AssetTypeAdmin(admin.ModelAdmin):
    list_display = ("asset_code", "name", "icon", "category", "is_tradable", "display_order", "legacy_names")
    list_filter = ("category", "is_tradable")
    search_fields = ("asset_code", "name")

    def get_readonly_fields(self, request, obj=None):
        # The code is referenced by every balance and leg: it is fixed once created.
        return ("asset_code",) if obj else ()

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Account)
class AccountAdmin(ReadOnlyModelAdmin):
    list_display = ("id", "kind", "user", "system_code", "created_at")
    list_filter = ("kind",)
    search_fields = ("user__username", "user__email", "system_code")
    list_select_related = ("user",)


@admin.register(Balance)
class BalanceAdmin(ReadOnlyModelAdmin):
    list_display = ("account", "asset", "available_amount", "frozen_amount", "updated_at")
    list_filter = ("asset", "account__kind")
    search_fields = ("account__user__username", "account__user__email", "account__system_code")
    list_select_related = ("account__user", "asset")


class JournalLegInline(ReadOnlyTabularInline):
    model = JournalLeg
    fields = ("account", "asset", "delta_available", "delta_frozen", "available_after", "frozen_after", "meta")


@admin.register(JournalEntry)
class JournalEntryAdmin(ReadOnlyModelAdmin):
    list_display = ("id", "business_type", "business_id", "created_at")
    list_filter = ("business_type", "legs__asset")
    search_fields = ("business_id", "legs__account__user__username", "legs__account__user__email")
    inlines = [JournalLegInline]

    def get_search_results(self, request, queryset, search_term):
        queryset, _ = super().get_search_results(request, queryset, search_term)
        return queryset.distinct(), False


@admin.register(Hold)
class HoldAdmin(ReadOnlyModelAdmin):
    list_display = ("id", "account", "asset", "amount", "remaining", "status", "entry", "created_at")
    list_filter = ("status", "asset")
    search_fields = ("account__user__username", "account__user__email", "entry__business_id")
    list_select_related = ("account__user", "asset", "entry")


@admin.register(BalanceAudit)
class BalanceAuditAdmin(ReadOnlyModelAdmin):
    list_display = (
        "created_at",
        "action",
        "operator",
        "account",
        "asset",
        "available_before",
        "available_after",
        "reason",
    )
    list_filter = ("action", "asset")
    search_fields = ("operator", "reason", "account__user__username", "account__system_code")
    list_select_related = ("account__user", "asset")


@admin.register(IssuanceLimit)
class IssuanceLimitAdmin(admin.ModelAdmin):
    """An issuer's own limits for an asset, over settings.ISSUANCE_LIMITS (superusers edit, operators read)."""

    list_display = ("issuer", "asset", "max_per_grant", "max_per_day")
    list_filter = ("asset",)
    list_select_related = ("issuer", "asset")
    raw_id_fields = ("issuer",)
