from django.contrib import admin

from backpack_site.admin_tools import ReadOnlyModelAdmin
from backpack_site.models import Alert, ReconciliationRun


@admin.register(ReconciliationRun)
class ReconciliationRunAdmin(ReadOnlyModelAdmin):
    list_display = ("started_at", "finished_at", "status", "discrepancy_count")
    list_filter = ("status",)


@admin.register(Alert)
class AlertAdmin(ReadOnlyModelAdmin):
    list_display = ("created_at", "source", "message", "webhook_status")
    list_filter = ("source",)
    search_fields = ("message",)
