"""Past redemptions of another system, kept as fulfilled orders (the legacy migration), and their undoing."""

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime

from core.db import atomic_with_retry, bulk_insert
from redemption.models import HISTORY_HASH_PREFIX, OrderStatus, RedemptionOrder


@dataclass(frozen=True)
class PastRedemption:
    """A redemption that happened in another system, kept as a fulfilled order."""

    item_id: int
    customer_id: int
    redeemer_id: int | None
    fulfilled_at: datetime


@atomic_with_retry
def orders_import_fulfilled(*, redemptions: list[PastRedemption]) -> dict[int, uuid.UUID]:
    """Record past redemptions as fulfilled orders, one per item (bulk work: the legacy migration).

    Returns {item id: order id}; items that already have such an order keep it.
    """
    item_ids = [r.item_id for r in redemptions]
    existing = dict(
        RedemptionOrder.objects.filter(
            item_instance_id__in=item_ids, code_hash__startswith=HISTORY_HASH_PREFIX
        ).values_list("item_instance_id", "order_id")
    )
    bulk_insert(
        RedemptionOrder,
        [
            RedemptionOrder(
                code_hash=f"{HISTORY_HASH_PREFIX}{secrets.token_hex(24)}",
                item_instance_id=r.item_id,
                customer_id=r.customer_id,
                redeemer_id=r.redeemer_id,
                status=OrderStatus.FULFILLED,
                expires_at=r.fulfilled_at,
                fulfilled_at=r.fulfilled_at,
            )
            for r in redemptions
            if r.item_id not in existing
        ],
    )
    return dict(
        RedemptionOrder.objects.filter(
            item_instance_id__in=item_ids, code_hash__startswith=HISTORY_HASH_PREFIX
        ).values_list("item_instance_id", "order_id")
    )


@atomic_with_retry
def orders_remove_imported(*, order_ids: list[uuid.UUID]) -> int:
    """Delete history orders made by `orders_import_fulfilled` (to undo an import)."""
    deleted, _ = RedemptionOrder.objects.filter(
        order_id__in=order_ids, code_hash__startswith=HISTORY_HASH_PREFIX
    ).delete()
    return deleted
