from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import path

from core.admin_tools import ReadOnlyModelAdmin
from operations.models import Alert, ReconciliationRun
from operations.selectors import operations_dashboard


@admin.register(ReconciliationRun)
class ReconciliationRunAdmin(ReadOnlyModelAdmin):
    list_display = ("started_at", "finished_at", "status", "discrepancy_count")
    list_filter = ("status",)

    def get_urls(self):
        dashboard = path(
            "dashboard/",
            self.admin_site.admin_view(self.dashboard_view),
            name="operations_reconciliationrun_dashboard",
        )
        return [dashboard, *super().get_urls()]

    def dashboard_view(self, request):
        # admin_view lets in any active staff user; merchant staff are staff too, so ask for the runs' view permission.
        if not self.has_view_permission(request):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "title": "Operations dashboard",
            "opts": self.model._meta,
            **operations_dashboard(),
        }
        return TemplateResponse(request, "admin/operations/reconciliationrun/dashboard.html", context)


@admin.register(Alert)
class AlertAdmin(ReadOnlyModelAdmin):
    list_display = ("created_at", "source", "message", "webhook_status")
    list_filter = ("source",)
    search_fields = ("message",)
