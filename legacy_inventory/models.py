"""The legacy single-table inventory and the record of where each of its rows went."""

from django.conf import settings
from django.db import models
from django.db.models import Q


class ReadOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise PermissionError("Legacy rows are never modified.")

    def delete(self):
        raise PermissionError("Legacy rows are never modified.")


class LegacyInventory(models.Model):
    """`user_inventory` as the old system left it. Read only: the migration never changes a row."""

    inventory_id = models.BigAutoField(primary_key=True)
    user_id = models.BigIntegerField(db_index=True)
    name = models.CharField(max_length=100)
    description = models.TextField(null=True, blank=True)
    type = models.CharField(max_length=16, null=True, blank=True)  # voucher | product | service
    item_type = models.CharField(max_length=32, null=True, blank=True)  # deprecated; may say 'material'
    value = models.IntegerField(null=True, blank=True)
    icon = models.CharField(max_length=64, null=True, blank=True)
    status = models.CharField(max_length=16)  # available | pending | used | expired | transferred
    verification_code = models.CharField(max_length=16, null=True, blank=True)
    verification_expires_at = models.DateTimeField(null=True, blank=True)
    operator_id = models.BigIntegerField(null=True, blank=True)
    used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    objects = ReadOnlyQuerySet.as_manager()

    class Meta:
        db_table = "user_inventory"
        verbose_name = "legacy inventory row"

    def __str__(self):
        return f"{self.inventory_id}: {self.name}"

    def save(self, *args, **kwargs):
        raise PermissionError("Legacy rows are never modified.")

    def delete(self, *args, **kwargs):
        raise PermissionError("Legacy rows are never modified.")


class Outcome(models.TextChoices):
    MIGRATED_ASSET = "migrated_asset", "Credited to the assets track"
    MIGRATED_ITEM = "migrated_item", "Became an item instance"
    SKIPPED_CONSUMED_MATERIAL = "skipped_consumed_material", "Consumed material, not credited"
    UNMAPPED = "unmapped", "Material name maps to no asset"
    FAILED = "failed", "Failed"


DONE_OUTCOMES = (Outcome.MIGRATED_ASSET, Outcome.MIGRATED_ITEM, Outcome.SKIPPED_CONSUMED_MATERIAL)


class Track(models.TextChoices):
    ASSETS = "assets", "Assets"
    ITEMS = "items", "Items"
    NONE = "none", "None"


class MigrationRecord(models.Model):
    """Where one legacy row went; written in the same transaction as what it describes."""

    inventory_id = models.BigIntegerField(unique=True)
    user_id = models.BigIntegerField()
    outcome = models.CharField(max_length=32, choices=Outcome.choices)
    track = models.CharField(max_length=8, choices=Track.choices)
    asset_code = models.CharField(max_length=32, null=True, blank=True)
    journal_entry_id = models.BigIntegerField(null=True, blank=True)
    item_instance_id = models.BigIntegerField(null=True, blank=True)
    redemption_order_id = models.UUIDField(null=True, blank=True)
    reason = models.TextField(blank=True)
    round = models.PositiveIntegerField(help_text="The rehearsal round that wrote it (see MigrationRound).")
    migrated_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "legacy_inventory_migration_records"
        indexes = [models.Index(fields=["outcome"], name="migration_record_outcome")]
        constraints = [
            models.CheckConstraint(
                condition=~Q(outcome=Outcome.MIGRATED_ASSET)
                | Q(journal_entry_id__isnull=False, asset_code__isnull=False),
                name="migrated_asset_has_entry",
            ),
            models.CheckConstraint(
                condition=~Q(outcome=Outcome.MIGRATED_ITEM) | Q(item_instance_id__isnull=False),
                name="migrated_item_has_item",
            ),
        ]

    def __str__(self):
        return f"{self.inventory_id}: {self.outcome}"


class MigrationRound(models.Model):
    """Each rollback opens a new round, so the ledger keys of a new run never meet the old ones."""

    number = models.PositiveIntegerField(unique=True)
    started_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "legacy_inventory_migration_rounds"

    def __str__(self):
        return f"round {self.number}"


class RetirementAction(models.TextChoices):
    RETIRE = "retire", "Renamed to deprecated"
    DROP = "drop", "Dropped"


class Retirement(models.Model):
    """Who retired or dropped which legacy table, and when: the record of an operator action."""

    action = models.CharField(max_length=8, choices=RetirementAction.choices)
    table_name = models.CharField(max_length=64)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "legacy_inventory_retirements"
        permissions = [("retire_inventory", "Can retire and drop the legacy user_inventory table")]

    def __str__(self):
        return f"{self.action} {self.table_name} by {self.actor}"
