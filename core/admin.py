import rest_framework_api_key.admin  # noqa: F401 (registers the library's own key model, unregistered below)
from django.contrib import admin, messages
from rest_framework_api_key.admin import APIKeyModelAdmin
from rest_framework_api_key.models import APIKey

from core.admin_tools import ReadOnlyModelAdmin
from core.models import IssuerKey, OutboxEvent
from core.services import issuer_key_create, issuer_key_rotate

# Keys not bound to an issuer account are not used: every key acts as an account.
admin.site.unregister(APIKey)


@admin.register(IssuerKey)
class IssuerKeyAdmin(APIKeyModelAdmin):
    """Create a key (shown once), revoke it (tick "revoked"), or rotate it (action)."""

    list_display = (*APIKeyModelAdmin.list_display, "issuer")
    list_select_related = ("issuer",)
    raw_id_fields = ("issuer",)
    actions = ["rotate"]

    def save_model(self, request, obj, form, change):
        if change:
            obj.save()
            return
        key, plain = issuer_key_create(issuer_id=obj.issuer_id, name=obj.name)
        obj.pk = key.pk
        self._show_once(request, key, plain)

    @admin.action(description="Rotate: issue a new key and revoke the selected ones")
    def rotate(self, request, queryset):
        for key_id in queryset.filter(revoked=False).values_list("pk", flat=True):
            key, plain = issuer_key_rotate(key_id=key_id)
            self._show_once(request, key, plain)

    def _show_once(self, request, key, plain):
        self.message_user(
            request,
            f"The API key {key.name!r} of {key.issuer} is: {plain} - store it now: it is not shown again.",
            messages.WARNING,
        )


@admin.register(OutboxEvent)
class OutboxEventAdmin(ReadOnlyModelAdmin):
    """The outbox as written by the business transactions; operations publishes it to the webhooks."""

    list_display = ("id", "event_type", "created_at", "published_at")
    list_filter = ("event_type",)
    search_fields = ("=id",)
