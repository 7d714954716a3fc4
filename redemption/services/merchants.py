"""Merchants and their staff."""

from django.contrib.auth.models import Group

from core.db import atomic_with_retry
from redemption.models import Merchant

MERCHANT_STAFF_GROUP = "merchant staff"  # created by migration 0002


@atomic_with_retry
def merchant_get_or_create(*, code: str, name: str) -> Merchant:
    """The merchant with this code, created active when it does not exist yet."""
    merchant, _ = Merchant.objects.get_or_create(code=code, defaults={"name": name})
    return merchant


@atomic_with_retry
def merchant_staff_add(*, merchant_id: int, user_id: int) -> None:
    """Make a user staff of a merchant, with the admin permission to verify codes (idempotent)."""
    Merchant.staff.through.objects.get_or_create(merchant_id=merchant_id, user_id=user_id)
    group = Group.objects.get(name=MERCHANT_STAFF_GROUP)
    group.user_set.add(user_id)
