"""The assets track: accounts, the asset catalog, balances, the journal and holds.

Tables keep the names of the original plan (`accounts`, `account_asset_balances`,
`asset_transactions`). Amounts are integers in minor units. Every write goes through
`ledger.services`; the journal is append-only.
"""

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import F, Q

from ledger.choices import SystemAccount


class AccountKind(models.TextChoices):
    USER = "user", "User"
    SYSTEM = "system", "System"


# Every purchase pays a fee and every grant comes from issuance: one balance row for each would make every
# such posting wait on the one before it. These accounts are spread over slots, accounts of their own
# ("SYSTEM_PLATFORM_FEE" is slot 0, "SYSTEM_PLATFORM_FEE:1" slot 1, ...), each posting using the slot of its
# user (ledger.services.system_slot_code). Every slot is an ordinary system account, so every reconciliation
# check holds for each slot as for any account; reports sum the slots (ledger.selectors.system_balance).
SLOTTED_SYSTEM_ACCOUNTS = frozenset({SystemAccount.ISSUANCE, SystemAccount.BURN, SystemAccount.PLATFORM_FEE})
SYSTEM_ACCOUNT_SLOTS = 32


class Account(models.Model):
    kind = models.CharField(max_length=10, choices=AccountKind.choices)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="ledger_account"
    )
    system_code = models.CharField(max_length=64, null=True, blank=True, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "accounts"
        constraints = [
            models.CheckConstraint(
                condition=Q(kind=AccountKind.USER, user__isnull=False, system_code__isnull=True)
                | Q(kind=AccountKind.SYSTEM, user__isnull=True, system_code__isnull=False),
                name="account_is_user_xor_system",
            ),
        ]

    def __str__(self):
        return self.system_code or f"user:{self.user_id}"

    @property
    def is_system(self) -> bool:
        return self.kind == AccountKind.SYSTEM


class AssetCategory(models.TextChoices):
    CURRENCY = "currency", "Currency"
    MATERIAL = "material", "Material"


class AssetType(models.Model):
    asset_code = models.CharField(
        primary_key=True,
        max_length=32,
        validators=[
            RegexValidator(r"^[A-Za-z][A-Za-z0-9_]*$", "Letters, digits and underscores, starting with a letter.")
        ],
    )
    name = models.CharField(max_length=64)
    icon = models.CharField(max_length=32, blank=True)
    category = models.CharField(max_length=16, choices=AssetCategory.choices)
    is_tradable = models.BooleanField(default=True)
    display_order = models.PositiveIntegerField(default=0)
    legacy_names = models.JSONField(
        default=list,
        blank=True,
        help_text="Names this asset had in the legacy user_inventory table (for the migration).",
    )

    class Meta:
        db_table = "asset_types"
        ordering = ["display_order", "asset_code"]

    def __str__(self):
        return self.asset_code


# The unique index the postings lock balance rows through (ledger.locks.balances_lock).
BALANCE_KEY = "balance_unique_account_asset"


class Balance(models.Model):
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="balances")
    asset = models.ForeignKey(AssetType, on_delete=models.PROTECT, db_column="asset_code", related_name="+")
    available_amount = models.BigIntegerField(default=0)
    frozen_amount = models.BigIntegerField(default=0)
    # Copied from the account when the row is created (an account never changes kind), so
    # that a CHECK on this row alone can keep user balances from going negative.
    allows_negative = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "account_asset_balances"
        constraints = [
            models.UniqueConstraint(fields=["account", "asset"], name=BALANCE_KEY),
            models.CheckConstraint(condition=Q(frozen_amount__gte=0), name="balance_frozen_not_negative"),
            models.CheckConstraint(
                condition=Q(available_amount__gte=0) | Q(allows_negative=True),
                name="balance_user_available_not_negative",
            ),
        ]

    def __str__(self):
        return f"{self.account} {self.asset_id}: {self.available_amount}+{self.frozen_amount}"


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise PermissionError("The journal is append-only.")

    def delete(self):
        raise PermissionError("The journal is append-only.")


class AppendOnlyModel(models.Model):
    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise PermissionError("The journal is append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("The journal is append-only.")


# The journal's business keys have owners (issue 20). Each service posts its own plain types ("gift",
# "market_listing", "migration", ...); a grant's type, which its issuer names, is stored in a namespace of its
# own, "grant:<type>", where no service's key can be: no service type has a colon.
GRANT_TYPE_PREFIX = "grant:"
GRANT_TYPE_PATTERN = r"^[a-z][a-z0-9_]*$"
GRANT_TYPE_MAX_LENGTH = 64 - len(GRANT_TYPE_PREFIX)


def grant_business_type(business_type: str) -> str:
    """The journal's business type of a grant its issuer typed `business_type`."""
    return f"{GRANT_TYPE_PREFIX}{business_type}"


class JournalEntry(AppendOnlyModel):
    """One business event; its legs sum to zero per asset."""

    business_type = models.CharField(max_length=64)
    business_id = models.CharField(max_length=128)
    # SHA-256 of the entry's canonical content: a replay must match it exactly.
    fingerprint = models.CharField(max_length=64)
    meta = models.JSONField(default=dict, blank=True)
    # Who asked for it, when a person or a service did (grants, adjustments); null for the platform's own work.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "asset_journal_entries"
        verbose_name_plural = "journal entries"
        permissions = [("grant_assets", "Can grant assets to users through the API")]
        constraints = [
            models.UniqueConstraint(fields=["business_type", "business_id"], name="journal_entry_unique_business_key"),
        ]

    def __str__(self):
        return f"{self.business_type}:{self.business_id}"


class JournalLeg(AppendOnlyModel):
    entry = models.ForeignKey(JournalEntry, on_delete=models.PROTECT, related_name="legs")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+")
    asset = models.ForeignKey(AssetType, on_delete=models.PROTECT, db_column="asset_code", related_name="+")
    delta_available = models.BigIntegerField(default=0)
    delta_frozen = models.BigIntegerField(default=0)
    available_after = models.BigIntegerField()
    frozen_after = models.BigIntegerField()
    meta = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "asset_transactions"
        indexes = [
            models.Index(fields=["account", "asset", "id"], name="leg_account_asset_id"),
            # A user's legs of every asset, newest first, without sorting them all: the activity feed's pages.
            models.Index(fields=["account", "id"], name="leg_account_id"),
        ]
        constraints = [
            models.CheckConstraint(condition=~Q(delta_available=0, delta_frozen=0), name="leg_moves_something"),
        ]

    def __str__(self):
        return f"{self.account} {self.asset_id} {self.delta_available:+}/{self.delta_frozen:+}"


class HoldStatus(models.TextChoices):
    OPEN = "open", "Open"
    SETTLED = "settled", "Settled"
    RELEASED = "released", "Released"


class Hold(models.Model):
    """Frozen amount set aside for one purpose; settled or released at most once in full."""

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="holds")
    asset = models.ForeignKey(AssetType, on_delete=models.PROTECT, db_column="asset_code", related_name="+")
    amount = models.BigIntegerField()
    remaining = models.BigIntegerField()
    status = models.CharField(max_length=10, choices=HoldStatus.choices, default=HoldStatus.OPEN)
    entry = models.OneToOneField(JournalEntry, on_delete=models.PROTECT, related_name="hold")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "asset_holds"
        indexes = [models.Index(fields=["account", "asset", "status"], name="hold_account_asset_status")]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="hold_amount_positive"),
            models.CheckConstraint(
                condition=Q(remaining__gte=0, remaining__lte=F("amount")), name="hold_remaining_in_range"
            ),
            models.CheckConstraint(
                condition=Q(status=HoldStatus.OPEN, remaining__gt=0) | (~Q(status=HoldStatus.OPEN) & Q(remaining=0)),
                name="hold_open_iff_remaining",
            ),
        ]

    def __str__(self):
        return f"hold {self.pk}: {self.remaining}/{self.amount} {self.asset_id} ({self.status})"


class AuditAction(models.TextChoices):
    RECALCULATE = "recalculate", "Balance row set to its journal"
    ADJUST = "adjust", "Adjusting entry posted"


class BalanceAudit(models.Model):
    """Who corrected which balance, why, and what it was before and after. Never edited."""

    action = models.CharField(max_length=16, choices=AuditAction.choices)
    operator = models.CharField(max_length=150, help_text="The actor's username, kept should the user go.")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    reason = models.TextField()
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+")
    asset = models.ForeignKey(AssetType, on_delete=models.PROTECT, db_column="asset_code", related_name="+")
    available_before = models.BigIntegerField()
    frozen_before = models.BigIntegerField()
    available_after = models.BigIntegerField()
    frozen_after = models.BigIntegerField()
    entry = models.ForeignKey(JournalEntry, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "ledger_balance_audits"
        permissions = [
            ("adjust_balance", "Can correct a balance with an adjusting entry"),
            ("recalculate_balance", "Can set a drifted balance row to its journal"),
        ]
        constraints = [
            models.CheckConstraint(condition=~Q(reason=""), name="audit_has_reason"),
            models.CheckConstraint(condition=~Q(operator=""), name="audit_has_operator"),
        ]

    def __str__(self):
        return f"{self.action} {self.account} {self.asset_id} by {self.operator}"


class IssuanceLimit(models.Model):
    """An issuer's own limits for one asset, over the defaults of settings.ISSUANCE_LIMITS."""

    issuer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    asset = models.ForeignKey(AssetType, on_delete=models.CASCADE, db_column="asset_code", related_name="+")
    max_per_grant = models.BigIntegerField()
    max_per_day = models.BigIntegerField()

    class Meta:
        db_table = "ledger_issuance_limits"
        constraints = [
            models.UniqueConstraint(fields=["issuer", "asset"], name="issuance_limit_one_per_issuer_asset"),
            models.CheckConstraint(
                condition=Q(max_per_grant__gte=0, max_per_day__gte=0), name="issuance_limit_not_negative"
            ),
        ]

    def __str__(self):
        return f"{self.issuer} {self.asset_id}: {self.max_per_grant}/grant, {self.max_per_day}/day"


class IssuanceDay(models.Model):
    """What an issuer granted of an asset on one day: the row its grants lock to stay under the daily limit."""

    issuer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    asset = models.ForeignKey(AssetType, on_delete=models.PROTECT, db_column="asset_code", related_name="+")
    day = models.DateField()
    amount = models.BigIntegerField(default=0)

    class Meta:
        db_table = "ledger_issuance_days"
        constraints = [
            models.UniqueConstraint(fields=["issuer", "asset", "day"], name="issuance_day_unique"),
            models.CheckConstraint(condition=Q(amount__gte=0), name="issuance_day_not_negative"),
        ]

    def __str__(self):
        return f"{self.issuer} {self.asset_id} on {self.day}: {self.amount}"


class CheckpointKind(models.TextChoices):
    FULL = "full", "Full"
    INCREMENTAL = "incremental", "Incremental"


class JournalCheckpoint(models.Model):
    """What a clean reconciliation run proved (ledger.checkpoints): the leg sums of every account and asset
    over the legs up to `through_leg_id` (the rows of CheckpointSum), and the last block it verified.

    `number` is the previous checkpoint's plus one, unique: two runs that start from the same checkpoint
    cannot both write the next one.
    """

    number = models.PositiveBigIntegerField(unique=True)
    kind = models.CharField(max_length=12, choices=CheckpointKind.choices)
    through_leg_id = models.PositiveBigIntegerField()
    verified_block = models.PositiveBigIntegerField(default=0, help_text="The last journal block verified (0: none).")
    asset_totals = models.JSONField(default=dict, help_text="{asset code: sum of the checkpoint's rows}")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "ledger_checkpoints"

    def __str__(self):
        return f"checkpoint {self.number} ({self.kind}) through leg {self.through_leg_id}"


class CheckpointSum(models.Model):
    """An account's legs of one asset, summed up to the latest checkpoint's `through_leg_id`."""

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+")
    asset = models.ForeignKey(AssetType, on_delete=models.PROTECT, db_column="asset_code", related_name="+")
    available = models.BigIntegerField()
    frozen = models.BigIntegerField()

    class Meta:
        db_table = "ledger_checkpoint_sums"
        constraints = [models.UniqueConstraint(fields=["account", "asset"], name="checkpoint_sum_unique_key")]

    def __str__(self):
        return f"{self.account_id} {self.asset_id}: {self.available}+{self.frozen}"


class JournalBlock(models.Model):
    """A block of sealed journal entries (ledger.seal): the Merkle root of their hashes, chained to the
    previous block by hash. `number` is the previous block's plus one, unique: one chain, never forked."""

    number = models.PositiveBigIntegerField(unique=True)
    previous_hash = models.CharField(max_length=64)
    merkle_root = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)
    entry_count = models.PositiveIntegerField()
    # The highest entry id visible when the block was made: once the block is older than
    # JOURNAL_COMMIT_GRACE_SECONDS, every entry up to it is sealed (the sealer's low-water mark).
    max_entry_seen = models.PositiveBigIntegerField()
    sealed_at = models.DateTimeField()

    class Meta:
        db_table = "ledger_journal_blocks"
        constraints = [models.CheckConstraint(condition=Q(entry_count__gt=0), name="block_has_entries")]

    def __str__(self):
        return f"block {self.number} {self.hash[:12]}…"


class JournalSeal(models.Model):
    """One entry's place in one block, and its hash when sealed. The entry id is the key: an entry is in
    one block at most. No foreign key: the seal must outlive a deleted entry, to name it."""

    entry_id = models.PositiveBigIntegerField(primary_key=True)
    block = models.ForeignKey(
        JournalBlock, to_field="number", db_column="block_number", on_delete=models.PROTECT, related_name="seals"
    )
    position = models.PositiveIntegerField()
    entry_hash = models.CharField(max_length=64)

    class Meta:
        db_table = "ledger_journal_seals"
        constraints = [
            models.UniqueConstraint(fields=["block", "position"], name="seal_unique_block_position"),
        ]

    def __str__(self):
        return f"entry {self.entry_id} in block {self.block_id}"
