"""Operations records that span the apps: alerts fired, reconciliation runs, and webhook endpoints with
their deliveries of the outbox's events."""

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from core.models import EventType
from operations.outbound import url_problem


class Alert(models.Model):
    """Every alert fired, whatever reached a person: the admin's and the metrics' memory of it."""

    source = models.CharField(max_length=64)
    message = models.TextField()
    details = models.JSONField(default=dict, blank=True)
    webhook_status = models.CharField(max_length=200, blank=True, help_text="What the webhook answered, if set.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "ops_alerts"
        indexes = [models.Index(fields=["source", "created_at"], name="alert_source_time")]

    def __str__(self):
        return f"{self.source}: {self.message}"


class RunStatus(models.TextChoices):
    RUNNING = "running", "Running"
    PASSED = "passed", "Passed"
    FAILED = "failed", "Discrepancies found"
    ERROR = "error", "Could not finish"


class RunKind(models.TextChoices):
    FULL = "full", "Full"
    INCREMENTAL = "incremental", "Incremental"


class ReconciliationRun(models.Model):
    kind = models.CharField(
        max_length=12,
        choices=RunKind.choices,
        default=RunKind.FULL,
        help_text="Full: every leg and block. Incremental: what changed since the last checkpoint.",
    )
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=RunStatus.choices, default=RunStatus.RUNNING)
    checks = models.JSONField(default=dict, help_text="{check: discrepancies found}")
    discrepancy_count = models.PositiveIntegerField(default=0)
    discrepancies = models.JSONField(default=list, help_text="The first ones found (capped); the count is exact.")
    error = models.TextField(blank=True)

    class Meta:
        db_table = "ops_reconciliation_runs"
        indexes = [models.Index(fields=["status", "started_at"], name="run_status_time")]

    def __str__(self):
        return f"reconciliation {self.started_at:%Y-%m-%d %H:%M} {self.status}"


class WebhookEndpoint(models.Model):
    """Where operators want business events sent (SPEC §12): configured in the admin."""

    url = models.URLField(max_length=500, help_text="Receives a signed JSON POST per event.")
    secret = models.CharField(
        max_length=128,
        blank=True,
        help_text="Shared with the receiver, which checks X-Backpack-Signature with it. Left blank, one is drawn.",
    )
    event_types = models.JSONField(
        default=list,
        blank=True,
        help_text='The event types to send, e.g. ["gift.received", "trade.settled"]; ["*"] for every type.',
    )
    active = models.BooleanField(default=True, help_text="Inactive: no new deliveries, and pending ones wait.")
    description = models.CharField(max_length=200, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0, editable=False)
    alerted_at = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="When it was reported as failing; cleared by a success."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "ops_webhook_endpoints"

    def __str__(self):
        return self.url

    def clean(self):
        problems = {}
        known = set(EventType.values) | {"*"}
        if not isinstance(self.event_types, list) or not set(self.event_types) <= known:
            problems["event_types"] = f"A list of event types among {sorted(known)}."
        if self.url and (problem := url_problem(self.url)):
            problems["url"] = problem
        if problems:
            raise ValidationError(problems)

    def wants(self, event_type: str) -> bool:
        return "*" in self.event_types or event_type in self.event_types


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Gave up"


class WebhookDelivery(models.Model):
    """One event for one endpoint: tried until it is delivered (at least once) or WEBHOOK_MAX_ATTEMPTS run out.

    A worker claims it by setting `lease_token` and moving `next_attempt_at` past the attempt's end; a worker
    that dies leaves the lease to run out, and the delivery is due again.
    """

    event = models.ForeignKey("core.OutboxEvent", on_delete=models.PROTECT, related_name="+")
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.PROTECT, related_name="deliveries")
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempt_count = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    lease_token = models.CharField(max_length=32, null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=200, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "ops_webhook_deliveries"
        verbose_name_plural = "webhook deliveries"
        permissions = [("retry_webhookdelivery", "Can send a webhook delivery again now")]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="delivery_due")]
        constraints = [
            models.UniqueConstraint(fields=["event", "endpoint"], name="delivery_unique_event_endpoint"),
            models.CheckConstraint(
                condition=Q(status=DeliveryStatus.DELIVERED, delivered_at__isnull=False)
                | (~Q(status=DeliveryStatus.DELIVERED) & Q(delivered_at__isnull=True)),
                name="delivery_delivered_iff_delivered_at",
            ),
        ]

    def __str__(self):
        return f"event {self.event_id} to {self.endpoint_id} ({self.status})"


class WebhookAttempt(models.Model):
    """One POST of a delivery and what came of it."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempts")
    number = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    ok = models.BooleanField()
    error = models.CharField(max_length=200, blank=True)

    class Meta:
        db_table = "ops_webhook_attempts"

    def __str__(self):
        return f"attempt {self.number} of delivery {self.delivery_id}: {'ok' if self.ok else self.error}"
