"""Reads of the redemption app for the API and the admin."""

from django.db.models import QuerySet

from redemption.models import HISTORY_HASH_PREFIX, Merchant, RedemptionOrder


def orders_for_user(*, user_id: int) -> QuerySet:
    """The caller's orders, newest first, with their item and merchant (one query a page)."""
    return (
        RedemptionOrder.objects.filter(customer_id=user_id).select_related("item_instance", "merchant").order_by("-id")
    )


def user_is_merchant_staff(*, user_id: int) -> bool:
    return Merchant.objects.filter(staff__id=user_id, active=True).exists()


def masked_name(user) -> str:
    """How merchant staff see a customer: enough to greet them, not to identify them."""
    name = user.get_full_name() or user.get_username()
    if len(name) <= 2:
        return name[:1] + "*"
    return f"{name[0]}{'*' * min(len(name) - 2, 4)}{name[-1]}"


def history_order_count() -> int:
    """Orders kept as history of redemptions in another system (the legacy migration)."""
    return RedemptionOrder.objects.filter(code_hash__startswith=HISTORY_HASH_PREFIX).count()
