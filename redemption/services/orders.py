"""A customer's redemption orders: created with their one-time code, cancelled, expired; each locks its item.

Locks (redemption/locks.py, in the order of core/locks.py): the order row first, then its
item (the item services lock it), in one transaction. Checks come after the lock. The plain code exists only in
`order_create`'s return value; it is hashed before anything is stored and only its
first 4 characters ever reach a log.
"""

import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.db import atomic_with_retry
from core.sweeps import Sweep, after_each_batch
from items.choices import ItemStatus
from items.exceptions import ItemNotAvailable
from items.locks import REDEMPTION_HOLDER
from items.selectors import item_get_for_owner
from items.services import item_lock, item_unlock
from redemption.codes import code_derive, code_generate, code_hash, code_hint, code_normalise
from redemption.exceptions import ItemNotRedeemable, OrderNotFound, OrderNotPending
from redemption.locks import order_lock, orders_lock_due_for_expiry
from redemption.models import REDEEMABLE_ITEM_TYPES, OrderStatus, RedemptionOrder, lock_holder

logger = logging.getLogger(__name__)

CODE_ATTEMPTS = 3


@dataclass(frozen=True)
class IssuedOrder:
    """A new order and its code, formatted XXXX-YYYY-ZZZZ: the one time the code exists."""

    order: RedemptionOrder
    code: str


@atomic_with_retry
def order_create(*, item_id: int, user_id: int, code_seed: str | None = None) -> IssuedOrder:
    """Lock the caller's item for a new order and issue its code.

    An item already locked by one of its pending orders gets that order cancelled first
    (a lost code): the old code stops working, the new one works. With `code_seed` (the caller's
    Idempotency-Key) the code is derived from it and the order id (`order_code_again`), so a retry
    can be answered the same code, which is never stored; without one it is random.
    """
    item = item_get_for_owner(owner_id=user_id, item_id=item_id)
    if item.item_type not in REDEEMABLE_ITEM_TYPES:
        raise ItemNotRedeemable(item_id=item_id, item_type=item.item_type)
    now = timezone.now()
    if item.expires_at is not None and item.expires_at <= now:
        raise ItemNotAvailable("The item has expired.", item_id=item_id, status=ItemStatus.EXPIRED)
    if item.status == ItemStatus.LOCKED and REDEMPTION_HOLDER.reference(item.locked_by):
        _order_replace(item_id=item_id, locked_by=item.locked_by, user_id=user_id)

    order_id = uuid.uuid4()
    item_lock(item_id=item_id, locked_by=lock_holder(order_id), owner_id=user_id, actor_id=user_id)
    expires_at = now + timedelta(days=settings.REDEMPTION_ORDER_TTL_DAYS)
    if item.expires_at is not None:
        expires_at = min(expires_at, item.expires_at)
    for attempt in range(1, CODE_ATTEMPTS + 1):
        code = code_derive(_derivation(order_id, code_seed)) if code_seed else code_generate()
        try:
            with transaction.atomic():
                order = RedemptionOrder.objects.create(
                    order_id=order_id,
                    code_hash=code_hash(code_normalise(code)),
                    item_instance_id=item_id,
                    customer_id=user_id,
                    status=OrderStatus.PENDING,
                    pending_item_id=item_id,
                    expires_at=expires_at,
                )
            break
        except IntegrityError:
            # Two codes in 31^11 collide only by astronomical chance; draw again.
            if attempt == CODE_ATTEMPTS:
                raise
    logger.info("redemption order %s created for item %s, code %s", order_id, item_id, code_hint(code))
    return IssuedOrder(order=order, code=code)


def order_code_again(*, order_id: uuid.UUID | str, code_seed: str) -> str:
    """The code `order_create` issued to an order with this seed: for the replay of its response."""
    return code_derive(_derivation(order_id, code_seed))


def _derivation(order_id, code_seed: str) -> str:
    return f"{order_id}:{code_seed}"


def _order_replace(*, item_id: int, locked_by: str, user_id: int) -> None:
    """Cancel the pending order that holds the item, so a new one can take its place."""
    order = order_lock(order_id=_order_id_from(locked_by), item_instance_id=item_id)
    if order is None or order.status != OrderStatus.PENDING:
        raise ItemNotAvailable(item_id=item_id, status=ItemStatus.LOCKED)
    _order_close(order, status=OrderStatus.CANCELLED, actor_id=user_id)
    logger.info("redemption order %s replaced by a new code", order.order_id)


def _order_id_from(locked_by: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(REDEMPTION_HOLDER.reference(locked_by))
    except (TypeError, ValueError):
        return None


@atomic_with_retry
def order_cancel(*, order_id: uuid.UUID, user_id: int) -> RedemptionOrder:
    """The customer gives up a pending order: the code stops working and the item is available again."""
    order = order_lock(order_id=order_id, customer_id=user_id)
    if order is None:
        raise OrderNotFound(order_id=str(order_id))
    if order.status != OrderStatus.PENDING:
        raise OrderNotPending(order_id=str(order_id), status=order.status)
    return _order_close(order, status=OrderStatus.CANCELLED, actor_id=user_id)


def order_expire_for_item(reference: str) -> bool:
    """The pending order named by an expired item's lock ("redemption:<order id>") expires and unlocks the item,
    in the caller's transaction (the items sweep's; items.services.holder_expiry_register). False when no
    pending order holds that lock any more."""
    order_id = _order_id_from(REDEMPTION_HOLDER.holder(reference))
    order = order_lock(order_id=order_id) if order_id else None
    if order is None or order.status != OrderStatus.PENDING:
        return False
    _order_close(order, status=OrderStatus.EXPIRED, actor_id=None)
    logger.info("redemption order %s expired with its item", order.order_id)
    return True


def orders_expire(*, batch_size: int = 500) -> int:
    """Expire pending orders past their expiry and unlock their items, a batch per transaction. A batch that
    fails goes again an order per transaction: the orders that cannot be closed are recorded and skipped, and
    the run goes on (core.sweeps)."""

    due = RedemptionOrder.objects.filter(status=OrderStatus.PENDING, expires_at__lte=timezone.now())
    with Sweep("expire_redemption_orders") as run:
        total = after_each_batch(due, batch_size=batch_size, handle=lambda ids: run.batch(ids, _expire_batch))
    if total:
        logger.info("expired %s redemption order(s)", total)
    return total


@atomic_with_retry
def _expire_batch(order_ids) -> int:
    orders = orders_lock_due_for_expiry(now=timezone.now(), order_ids=order_ids)
    for order in orders:
        _order_close(order, status=OrderStatus.EXPIRED, actor_id=None)
    return len(orders)


def _order_close(order: RedemptionOrder, *, status: str, actor_id: int | None) -> RedemptionOrder:
    """pending → cancelled or expired, item unlocked; the caller holds the order's row lock."""
    now = timezone.now()
    updated = RedemptionOrder.objects.filter(pk=order.pk, status=OrderStatus.PENDING).update(
        status=status, pending_item_id=None, updated_at=now
    )
    if updated == 0:
        raise OrderNotPending(order_id=str(order.order_id))
    item_unlock(item_id=order.item_instance_id, locked_by=order.lock_holder, actor_id=actor_id)
    order.status, order.pending_item_id, order.updated_at = status, None, now
    return order
