"""Credentials of the services that call the API (the prize issuer's API keys), and the event outbox."""

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from rest_framework_api_key.models import AbstractAPIKey


class IssuerKey(AbstractAPIKey):
    """An API key of a prize issuer (the lottery engine): hashed at rest, shown once, revocable.

    Requests made with it act as `issuer`, so they get exactly the issuer's permissions and limits.
    """

    issuer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="api_keys")

    class Meta(AbstractAPIKey.Meta):
        db_table = "core_issuer_keys"
        verbose_name = "issuer API key"
        verbose_name_plural = "issuer API keys"


class EventType(models.TextChoices):
    """The catalogue of business events (SPEC §12); README "Events and webhooks" shows each one's data."""

    ASSET_GRANTED = "asset.granted", "Assets granted"
    ITEM_GRANTED = "item.granted", "Item granted"
    GIFT_SENT = "gift.sent", "Gift sent"
    GIFT_RECEIVED = "gift.received", "Gift received"
    CODE_REDEEMED = "code.redeemed", "Redemption code redeemed"
    LISTING_SOLD = "listing.sold", "Listing sold out"
    TRADE_SETTLED = "trade.settled", "Trade settled"
    BUY_ORDER_PLACED = "buy_order.placed", "Buy order placed"
    BUY_ORDER_FILLED = "buy_order.filled", "Buy order filled (in part)"
    BUY_ORDER_CLOSED = "buy_order.closed", "Buy order closed"
    ITEM_EXPIRING_SOON = "item.expiring_soon", "Item expiring soon"
    ITEM_EXPIRED = "item.expired", "Item expired"
    RECONCILIATION_FAILED = "reconciliation.failed", "Reconciliation failed"
    JOURNAL_SEALED = "journal.sealed", "Journal block sealed"


class OutboxEvent(models.Model):
    """A business event, written in the transaction of the change it describes (core.services.event_record).

    So it exists if and only if that change committed. Operations fans it out to the webhook endpoints
    and marks it published; nothing else changes a row.
    """

    event_type = models.CharField(max_length=64, choices=EventType.choices)
    data = models.JSONField(encoder=DjangoJSONEncoder)
    # Set for an event that is recorded once whoever records it (a daily sweep that runs twice): unique.
    once_key = models.CharField(max_length=128, null=True, blank=True, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    published_at = models.DateTimeField(null=True, blank=True, help_text="When its webhook deliveries were made.")

    class Meta:
        db_table = "core_outbox_events"
        verbose_name = "outbox event"
        indexes = [models.Index(fields=["published_at", "id"], name="outbox_unpublished")]

    def __str__(self):
        return f"event {self.pk}: {self.event_type}"


class IdempotencyRecord(models.Model):
    """A write done under an Idempotency-Key, and its response: what a retry with that key is answered (SPEC §8).

    Written in the same transaction as the write itself, so a record exists exactly when its write
    committed. The key is kept as its SHA-256 (`key_digest`): compared byte for byte whatever the
    database's collation says about case or trailing spaces, and never stored as sent.
    """

    caller = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key_digest = models.CharField(max_length=64)
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=255)
    # SHA-256 of the method, the path and the body as parsed (key order and spacing do not matter).
    request_digest = models.CharField(max_length=64)
    status = models.PositiveSmallIntegerField()
    response_body = models.TextField(help_text="The response's JSON, as first answered.")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        db_table = "core_idempotency_records"
        constraints = [
            models.UniqueConstraint(fields=["caller", "key_digest"], name="idempotency_unique_caller_key"),
        ]

    def __str__(self):
        return f"{self.method} {self.path} by {self.caller_id} → {self.status}"


class BackpackVersion(models.Model):
    """How many times a user's backpack (balances and items) has changed: the backpack's strong ETag.

    Bumped by `core.locks.backpack_versions_bump` in the transaction of every change to the user's
    balances or items, so a reader who sees a version sees exactly the backpack of that version. No row
    means the backpack has not changed since versions were introduced (version 0).
    """

    user = models.OneToOneField(settings.AUTH_USER_MODEL, primary_key=True, on_delete=models.CASCADE, related_name="+")
    version = models.BigIntegerField(default=1)

    class Meta:
        db_table = "core_backpack_versions"
        constraints = [models.CheckConstraint(condition=models.Q(version__gte=1), name="backpack_version_positive")]

    def __str__(self):
        return f"backpack of {self.user_id}: version {self.version}"
