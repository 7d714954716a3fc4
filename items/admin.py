import uuid

from django import forms
from django.contrib import admin, messages

from core.admin_tools import ReadOnlyTabularInline
from core.errors import BackpackError
from core.money import face_value_shown
from items.models import ItemInstance, ItemInstanceEvent
from items.services import item_expire, item_grant, item_meta_error


class ItemEventInline(ReadOnlyTabularInline):
    model = ItemInstanceEvent
    fk_name = "item"
    fields = ("created_at", "event_type", "from_status", "to_status", "from_owner", "to_owner", "business_ref", "actor")
    readonly_fields = fields
    ordering = ("-id",)


class ItemGrantForm(forms.ModelForm):
    # Drawn when the form is shown and posted back with it: a double-submitted form grants once.
    grant_key = forms.CharField(widget=forms.HiddenInput, initial=lambda: uuid.uuid4().hex, max_length=64)

    class Meta:
        model = ItemInstance
        fields = ("owner", "item_type", "name", "meta", "expires_at", "merchant_code")

    def clean_meta(self):
        meta = self.cleaned_data["meta"]
        if not isinstance(meta, dict):
            raise forms.ValidationError("meta is a JSON object.")
        error = item_meta_error(meta)
        if error:
            raise forms.ValidationError(error)
        return meta


@admin.register(ItemInstance)
class ItemInstanceAdmin(admin.ModelAdmin):
    """Items are read-only here; staff grant new ones with the add form and expire them with an action."""

    list_display = ("id", "name", "item_type", "face_value", "status", "owner", "locked_by", "expires_at", "created_at")
    list_filter = ("item_type", "status", "source")
    search_fields = ("name", "owner__username", "owner__email", "=id")
    list_select_related = ("owner",)
    raw_id_fields = ("owner",)
    inlines = [ItemEventInline]
    actions = ["expire_now"]
    form = ItemGrantForm

    @admin.display(description="Value")
    def face_value(self, item):
        """`meta.value` is the voucher's face value in minor units: shown as money (core.money.face_value_shown)."""
        return face_value_shown(item.meta)

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_inlines(self, request, obj):
        return self.inlines if obj else []

    def has_add_permission(self, request):
        return request.user.has_perm("items.grant_items")

    def save_model(self, request, obj, form, change):
        item, _ = item_grant(
            actor=request.user,
            owner_id=obj.owner_id,
            item_type=obj.item_type,
            name=obj.name,
            meta=obj.meta,
            expires_at=obj.expires_at,
            merchant_code=obj.merchant_code,
            source="admin",
            source_ref=form.cleaned_data["grant_key"],
        )
        obj.pk = item.pk

    def has_expire_permission(self, request):
        return request.user.has_perm("items.change_iteminstance")

    @admin.action(description="Expire the selected available items now", permissions=["expire"])
    def expire_now(self, request, queryset):
        expired, refused = 0, []
        for item_id in queryset.values_list("pk", flat=True):
            try:
                item_expire(item_id=item_id, actor_id=request.user.pk, even_if_not_due=True)
                expired += 1
            except BackpackError as error:
                refused.append(f"#{item_id}: {error.details.get('status', error.message)}")
        self.message_user(request, f"Expired {expired} item(s).", messages.SUCCESS)
        if refused:
            self.message_user(request, "Not expired (not available): " + ", ".join(refused), messages.WARNING)
