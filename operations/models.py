"""Operations records that span the apps: alerts fired and reconciliation runs."""

from django.db import models


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


class ReconciliationRun(models.Model):
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
