from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import models, transaction
from django.template.response import TemplateResponse
from django.urls import path

from core.admin_tools import ReadOnlyModelAdmin, ReadOnlyTabularInline
from operations.models import Alert, ReconciliationRun, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from operations.selectors import operations_dashboard
from operations.tasks import webhooks_kick
from operations.webhooks import deliveries_retry_now, webhook_secret_new


@admin.register(ReconciliationRun)
class ReconciliationRunAdmin(ReadOnlyModelAdmin):
    list_display = ("started_at", "finished_at", "kind", "status", "discrepancy_count")
    list_filter = ("kind", "status")

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


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    """Operators add, change and switch off endpoints; the secret is drawn when left blank."""

    list_display = ("url", "active", "event_types", "consecutive_failures", "alerted_at", "created_at")
    list_filter = ("active",)
    search_fields = ("url", "description")
    readonly_fields = ("consecutive_failures", "alerted_at", "created_at", "updated_at")
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def has_delete_permission(self, request, obj=None):
        return False  # their deliveries are history: switch an endpoint off instead

    def save_model(self, request, obj, form, change):
        if not obj.secret:
            obj.secret = webhook_secret_new()
            self.message_user(
                request, f"The secret of {obj.url} is {obj.secret}: give it to the receiver.", messages.WARNING
            )
        super().save_model(request, obj, form, change)


class WebhookAttemptInline(ReadOnlyTabularInline):
    model = WebhookAttempt
    fields = ("number", "started_at", "duration_ms", "status_code", "ok", "error")
    readonly_fields = fields
    ordering = ("-number",)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyModelAdmin):
    list_display = (
        "id",
        "event",
        "event_type",
        "endpoint",
        "status",
        "attempt_count",
        "next_attempt_at",
        "last_status_code",
        "last_error",
        "delivered_at",
    )
    list_filter = ("status", "endpoint", "event__event_type")
    search_fields = ("=id", "=event__id")
    list_select_related = ("event", "endpoint")
    raw_id_fields = ("event",)
    inlines = [WebhookAttemptInline]
    actions = ["retry_now"]

    @admin.display(description="type")
    def event_type(self, delivery):
        return delivery.event.event_type

    def has_retry_permission(self, request):
        return request.user.has_perm("operations.retry_webhookdelivery")

    @admin.action(description="Retry now (pending and given-up deliveries)", permissions=["retry"])
    def retry_now(self, request, queryset):
        count = deliveries_retry_now(actor=request.user, delivery_ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(request, f"{count} deliveries are due now; delivered ones were left alone.", messages.SUCCESS)
        transaction.on_commit(webhooks_kick)
