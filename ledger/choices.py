"""The assets track's vocabulary, which other apps may import (its tables, in ledger.models, they may not)."""

from django.db import models


class SystemAccount(models.TextChoices):
    """System accounts are counterparties; they alone may go negative."""

    ISSUANCE = "SYSTEM_ISSUANCE", "Issuance"
    BURN = "SYSTEM_BURN", "Burn"
    PLATFORM_FEE = "SYSTEM_PLATFORM_FEE", "Platform fee"
    ADJUSTMENT = "SYSTEM_ADJUSTMENT", "Adjustment"
    MIGRATION = "SYSTEM_MIGRATION", "Migration"
