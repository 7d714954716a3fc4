"""The items track's vocabulary, which other apps may import (its tables, in items.models, they may not)."""

from django.db import models


class ItemType(models.TextChoices):
    VOUCHER = "voucher", "Voucher"
    PRODUCT = "product", "Product"
    SERVICE = "service", "Service card"
    EQUIPMENT = "equipment", "Equipment"
    CARD = "card", "Card"


class ItemStatus(models.TextChoices):
    AVAILABLE = "available", "Available"
    LOCKED = "locked", "Locked"
    USED = "used", "Used"
    EXPIRED = "expired", "Expired"
    TRANSFERRED = "transferred", "Transferred"  # migrated legacy rows only


class ItemEventType(models.TextChoices):
    GRANTED = "granted", "Granted"
    LOCKED = "locked", "Locked"
    UNLOCKED = "unlocked", "Unlocked"
    USED = "used", "Used"
    EXPIRED = "expired", "Expired"
    TRANSFERRED = "transferred", "Ownership transferred"
    GIFTED = "gift", "Given as a gift"
    IMPORTED = "imported", "Imported from the legacy inventory"
