"""Gifts between customers: an item or an amount of a tradable asset, given once per idempotency key.

The gift row is the record of the request; what moved is in the item's history (a `gift` event whose
business reference is "gift:<gift id>") or in one ledger entry (business type "gift", `Gift.entry`).
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q

# The ledger entry of an asset gift: business type "gift", business id "<sender id>:<idempotency key>".
GIFT_BUSINESS_TYPE = "gift"


class Gift(models.Model):
    sender = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="gifts_sent")
    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="gifts_received")
    item_instance = models.ForeignKey(
        "items.ItemInstance", null=True, blank=True, on_delete=models.PROTECT, related_name="gifts"
    )
    asset = models.ForeignKey(
        "ledger.AssetType", null=True, blank=True, on_delete=models.PROTECT, db_column="asset_code", related_name="+"
    )
    amount = models.BigIntegerField(null=True, blank=True)
    # An asset gift's ledger entry: how the feed finds the gift of an entry (never from the entry's meta).
    entry = models.OneToOneField(
        "ledger.JournalEntry", null=True, blank=True, on_delete=models.PROTECT, related_name="gift"
    )
    message = models.CharField(max_length=200, blank=True)
    # The sender's Idempotency-Key: a retry with it returns this gift; `fingerprint` says whether it asked the same.
    idempotency_key = models.CharField(max_length=64)
    fingerprint = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "gifts"
        indexes = [
            models.Index(fields=["sender", "created_at"], name="gift_sender_day"),
            models.Index(fields=["recipient", "id"], name="gift_recipient"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["sender", "idempotency_key"], name="gift_unique_sender_key"),
            models.CheckConstraint(
                condition=Q(item_instance__isnull=False, asset__isnull=True, amount__isnull=True)
                | Q(item_instance__isnull=True, asset__isnull=False, amount__gt=0),
                name="gift_is_item_xor_amount",
            ),
            models.CheckConstraint(condition=~Q(sender=F("recipient")), name="gift_not_to_oneself"),
        ]

    def __str__(self):
        what = f"item {self.item_instance_id}" if self.item_instance_id else f"{self.amount} {self.asset_id}"
        return f"gift {self.pk}: {what} from {self.sender_id} to {self.recipient_id}"

    @property
    def item_reference(self) -> str:
        """The business reference of the item's `gift` event."""
        return f"gift:{self.pk}"
