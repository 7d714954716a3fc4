"""The items track: single item instances with a state machine and their history."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from items.choices import ItemEventType, ItemStatus, ItemType

# The sources whose items only `items_import` writes (the legacy migration's, keyed by legacy row id): a grant
# cannot name them, and an import names no other, so no grant can take a reference an import will need.
IMPORT_SOURCES = frozenset({"migration"})


class ItemInstance(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="items")
    item_type = models.CharField(max_length=16, choices=ItemType.choices)
    name = models.CharField(max_length=200)
    meta = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=ItemStatus.choices, default=ItemStatus.AVAILABLE)
    # Who holds the lock: "redemption:<order_id>" or "market:<listing_id>".
    locked_by = models.CharField(max_length=64, null=True, blank=True)
    locked_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    merchant_code = models.CharField(
        max_length=32, null=True, blank=True, help_text="Only this merchant may redeem it."
    )
    source = models.CharField(max_length=32)
    source_ref = models.CharField(max_length=128)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "item_instances"
        permissions = [("grant_items", "Can grant items to users through the API")]
        indexes = [
            models.Index(fields=["owner", "status", "-created_at"], name="item_backpack"),
            models.Index(fields=["status", "expires_at"], name="item_status_expiry"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["source", "source_ref"], name="item_unique_source_ref"),
            models.CheckConstraint(
                condition=Q(status=ItemStatus.LOCKED, locked_by__isnull=False, locked_at__isnull=False)
                | (~Q(status=ItemStatus.LOCKED) & Q(locked_by__isnull=True, locked_at__isnull=True)),
                name="item_locked_iff_lock_holder",
            ),
        ]

    def __str__(self):
        return f"{self.name} #{self.pk}"


class ItemInstanceEvent(models.Model):
    """One transition of an item: its history, never edited."""

    item = models.ForeignKey(ItemInstance, on_delete=models.CASCADE, related_name="events")
    event_type = models.CharField(max_length=16, choices=ItemEventType.choices)
    from_status = models.CharField(max_length=16, choices=ItemStatus.choices, null=True, blank=True)
    to_status = models.CharField(max_length=16, choices=ItemStatus.choices)
    from_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    to_owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    # "<source>:<source ref>" of a grant: 32 + 1 + 128 characters at most.
    business_ref = models.CharField(max_length=192, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "item_instance_events"
        indexes = [models.Index(fields=["item", "id"], name="item_event_history")]

    def __str__(self):
        return f"{self.item_id}: {self.from_status} → {self.to_status}"
