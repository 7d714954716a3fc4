"""Reconciliation of redemption orders against the item locks they hold, one statement per direction.

A pending order holds its item locked with `locked_by` "redemption:<order_id>". The order id
is a UUID, stored natively by MariaDB (dashed when cast to text) and as 32 hex digits by
SQLite, so both sides are compared as text without dashes. Both are cast to text, so MariaDB
compares them in one collation (the column's differs from a cast's).
"""

from django.db.models import CharField, Exists, OuterRef, Value
from django.db.models.functions import Cast, Concat, Replace

from core.reconciliation import discrepancy
from items.locks import REDEMPTION_HOLDER
from items.selectors import items_locked
from redemption.models import OrderStatus, RedemptionOrder


def _text_without_dashes(expression):
    return Replace(Cast(expression, output_field=CharField()), Value("-"), Value(""))


def _order_lock_reference():
    return Concat(Value(REDEMPTION_HOLDER.prefix), _text_without_dashes("order_id"))


def _item_lock_reference():
    return _text_without_dashes("locked_by")


def redemption_locks_match_orders() -> list[dict]:
    """Every item locked by "redemption:…" is held by that pending order of that item, and every
    pending order holds its item's lock."""
    holder = RedemptionOrder.objects.filter(status=OrderStatus.PENDING, item_instance_id=OuterRef("pk")).annotate(
        reference=_order_lock_reference()
    )
    orphan_locks = (
        items_locked(holder_prefix=REDEMPTION_HOLDER.prefix)
        .annotate(reference=_item_lock_reference())
        .exclude(Exists(holder.filter(reference=OuterRef("reference"))))
        .order_by("pk")
        .values_list("pk", "locked_by")
    )
    locked_by_order = (
        items_locked(holder_prefix=REDEMPTION_HOLDER.prefix)
        .annotate(reference=_item_lock_reference())
        .filter(pk=OuterRef("item_instance_id"), reference=OuterRef("reference"))
    )
    unlocked_orders = (
        RedemptionOrder.objects.filter(status=OrderStatus.PENDING)
        .annotate(reference=_order_lock_reference())
        .exclude(Exists(locked_by_order))
        .order_by("pk")
        .values_list("order_id", "item_instance_id", "item_instance__status", "item_instance__locked_by")
    )
    return [
        discrepancy(
            "item_lock_has_live_holder",
            item_id=item_id,
            expected="a pending redemption order of this item named by locked_by",
            actual={"locked_by": locked_by},
        )
        for item_id, locked_by in orphan_locks
    ] + [
        discrepancy(
            "live_holder_has_item_locked",
            order_id=str(order_id),
            item_id=item_id,
            expected={"status": "locked", "locked_by": REDEMPTION_HOLDER.holder(order_id)},
            actual={"status": status, "locked_by": locked_by},
        )
        for order_id, item_id, status, locked_by in unlocked_orders
    ]
