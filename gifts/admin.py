from django.contrib import admin

from core.admin_tools import ReadOnlyModelAdmin
from gifts.models import Gift


@admin.register(Gift)
class GiftAdmin(ReadOnlyModelAdmin):
    list_display = ("id", "created_at", "sender", "recipient", "item_instance", "asset", "amount", "message")
    list_filter = ("asset", "created_at")
    search_fields = ("=id", "sender__username", "recipient__username", "=item_instance__id")
    list_select_related = ("sender", "recipient", "item_instance", "asset")
    raw_id_fields = ("sender", "recipient", "item_instance")
