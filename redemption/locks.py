"""Row locks of redemption: an order row, before its item (core/locks.py has the global order)."""

from datetime import datetime

from core.locks import in_lock_order
from redemption.models import OrderStatus, RedemptionOrder


def order_lock(**lookup) -> RedemptionOrder | None:
    """The order matching `lookup` (a unique order id or code hash, with extra conditions), locked alone."""
    return RedemptionOrder.objects.select_for_update().filter(**lookup).first()


def orders_lock_due_for_expiry(*, now: datetime, batch_size: int) -> list[RedemptionOrder]:
    due = RedemptionOrder.objects.filter(status=OrderStatus.PENDING, expires_at__lte=now)
    return list(in_lock_order(due)[:batch_size])
