from django.contrib import admin

from core.admin_tools import ReadOnlyModelAdmin
from legacy_inventory.models import MigrationRecord, Retirement


@admin.register(MigrationRecord)
class MigrationRecordAdmin(ReadOnlyModelAdmin):
    list_display = ("inventory_id", "user_id", "outcome", "track", "asset_code", "item_instance_id", "migrated_at")
    list_filter = ("outcome", "track", "round")
    search_fields = ("=inventory_id", "=user_id")


@admin.register(Retirement)
class RetirementAdmin(ReadOnlyModelAdmin):
    list_display = ("created_at", "action", "table_name", "actor")
    list_select_related = ("actor",)
