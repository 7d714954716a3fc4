"""Redemption: merchants, one-time-code orders and the record of every verification attempt."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from items.choices import ItemType
from items.locks import REDEMPTION_HOLDER

REDEEMABLE_ITEM_TYPES = (ItemType.VOUCHER, ItemType.PRODUCT, ItemType.SERVICE)
# The code_hash of an order kept as history of a redemption elsewhere: never 64 hex digits,
# so no code can ever match it.
HISTORY_HASH_PREFIX = "history:"


class Merchant(models.Model):
    code = models.CharField(max_length=32, unique=True, help_text="Items restricted to this code may be redeemed here.")
    name = models.CharField(max_length=200)
    active = models.BooleanField(default=True)
    staff = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="merchants")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "merchants"
        ordering = ["code"]

    def __str__(self):
        return f"{self.name} ({self.code})"


class OrderStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    FULFILLED = "fulfilled", "Fulfilled"
    CANCELLED = "cancelled", "Cancelled"
    EXPIRED = "expired", "Expired"


class RedemptionOrder(models.Model):
    order_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    code_hash = models.CharField(
        max_length=64, unique=True, help_text="HMAC-SHA256 of the code; the code is never stored."
    )
    item_instance = models.ForeignKey("items.ItemInstance", on_delete=models.PROTECT, related_name="redemption_orders")
    # The item's owner who asked for the code.
    customer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="redemption_orders")
    # The merchant staff user who fulfilled it, and where.
    redeemer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="redemptions_fulfilled"
    )
    merchant = models.ForeignKey(Merchant, null=True, blank=True, on_delete=models.PROTECT, related_name="orders")
    status = models.CharField(max_length=16, choices=OrderStatus.choices, default=OrderStatus.PENDING)
    # Equal to item_instance_id while pending, NULL otherwise: its unique index lets the
    # database refuse a second pending order for one item (MariaDB has no partial index).
    pending_item_id = models.BigIntegerField(null=True, blank=True, unique=True, editable=False)
    expires_at = models.DateTimeField()
    fulfilled_at = models.DateTimeField(null=True, blank=True)
    # The item's face value (meta.value, minor units) when it was redeemed: what the merchant
    # and the platform settle on, summed from the order alone (index-only for the counter).
    face_value = models.BigIntegerField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "redemption_orders"
        indexes = [
            models.Index(fields=["status", "expires_at"], name="redemption_status_expiry"),
            models.Index(fields=["customer", "-id"], name="redemption_customer"),
            # A merchant's redemptions in a period and their face values, read from the index alone
            # (the counter's totals, the settlement report); then every merchant's.
            models.Index(
                fields=["merchant", "status", "fulfilled_at", "face_value"], name="redemption_merchant_period"
            ),
            models.Index(fields=["status", "fulfilled_at", "merchant", "face_value"], name="redemption_fulfilled_time"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status=OrderStatus.PENDING, pending_item_id=F("item_instance"))
                | (~Q(status=OrderStatus.PENDING) & Q(pending_item_id__isnull=True)),
                name="redemption_pending_item_iff_pending",
            ),
            models.CheckConstraint(
                # Redeemer and merchant stay optional: orders migrated as history may lack them.
                condition=Q(status=OrderStatus.FULFILLED, fulfilled_at__isnull=False)
                | (~Q(status=OrderStatus.FULFILLED) & Q(fulfilled_at__isnull=True)),
                name="redemption_fulfilled_iff_fulfilled_at",
            ),
        ]

    def __str__(self):
        return f"order {self.order_id} ({self.status})"

    @property
    def lock_holder(self) -> str:
        """The `locked_by` value of the item while this order holds it."""
        return lock_holder(self.order_id)


def lock_holder(order_id) -> str:
    return REDEMPTION_HOLDER.holder(order_id)


class CodeVerification(RedemptionOrder):
    """No table of its own: the admin's "Verify redemption code" page and its permission."""

    class Meta:
        proxy = True
        verbose_name = verbose_name_plural = "Verify redemption code"
        default_permissions = ()
        permissions = [("verify_code", "Can verify and fulfil redemption codes")]


class AttemptKind(models.TextChoices):
    LOOKUP = "lookup", "Lookup"
    FULFIL = "fulfil", "Fulfil"


class AttemptOutcome(models.TextChoices):
    OK = "ok", "OK"
    NOT_FOUND = "not_found", "Not found"
    TYPO = "typo", "Typo or not a code"
    EXPIRED = "expired", "Expired"
    ALREADY_USED = "already_used", "Already used"
    CANCELLED = "cancelled", "Cancelled"
    WRONG_MERCHANT = "wrong_merchant", "Wrong merchant"
    THROTTLED = "throttled", "Throttled"


class RedemptionAttempt(models.Model):
    """One lookup or fulfil by merchant staff, whatever its outcome (for the failure-rate alert)."""

    kind = models.CharField(max_length=8, choices=AttemptKind.choices)
    outcome = models.CharField(max_length=16, choices=AttemptOutcome.choices)
    staff_user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    merchant = models.ForeignKey(Merchant, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    order = models.ForeignKey(RedemptionOrder, null=True, blank=True, on_delete=models.PROTECT, related_name="attempts")
    ip = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "redemption_attempts"
        indexes = [models.Index(fields=["created_at", "outcome"], name="redemption_attempt_time")]

    def __str__(self):
        return f"{self.kind} {self.outcome} by {self.staff_user_id}"
