"""Row locks of redemption: an order row, before its item (core/locks.py has the global order)."""

from datetime import datetime

from django.db.models import OuterRef

from core.locks import in_lock_order
from items.selectors import item_merchant_code
from redemption.models import OrderStatus, RedemptionOrder


def order_lock(**lookup) -> RedemptionOrder | None:
    """The order matching `lookup` (a unique order id or code hash, with extra conditions), locked alone."""
    return RedemptionOrder.objects.select_for_update().filter(**lookup).first()


def order_lock_for_fulfil(*, code_hash: str) -> RedemptionOrder | None:
    """The order with this code, locked alone, and as `restricted_to` its item's merchant code, read in the
    same statement. The subquery locks nothing (InnoDB locks the rows of a locking read's own tables, not of
    a subquery): the item is locked after the order, by its transition, and the merchant code is set when the
    item is granted and never changes, so reading it unlocked is safe.
    """
    return (
        RedemptionOrder.objects.select_for_update()
        .annotate(restricted_to=item_merchant_code(item_id=OuterRef("item_instance_id")))
        .filter(code_hash=code_hash)
        .first()
    )


def orders_lock_due_for_expiry(*, now: datetime, order_ids) -> list[RedemptionOrder]:
    """Those of these orders that are still pending past their expiry, locked."""
    due = RedemptionOrder.objects.filter(pk__in=order_ids, status=OrderStatus.PENDING, expires_at__lte=now)
    return list(in_lock_order(due))
