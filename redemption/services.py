"""Every write of the redemption app.

Locks (redemption/locks.py, in the order of core/locks.py): the order row first, then its
item (the item services lock it), in one transaction. Checks come after the lock. The plain code exists only in
`order_create`'s return value; it is hashed before anything is stored and only its
first 4 characters ever reach a log.
"""

import logging
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.db import atomic_with_retry, bulk_insert
from core.errors import BackpackError
from core.models import EventType
from core.money import face_value
from core.services import event_record
from core.sweeps import Sweep, after_each_batch
from items.exceptions import ItemNotAvailable
from items.locks import REDEMPTION_HOLDER
from items.models import ItemInstance, ItemStatus
from items.selectors import item_get_for_owner
from items.services import item_lock, item_mark_used, item_unlock
from redemption import limits
from redemption.codes import code_derive, code_generate, code_hash, code_hint, code_normalise
from redemption.events import redeemed_event_data
from redemption.exceptions import (
    CodeAlreadyUsed,
    CodeCancelled,
    CodeExpired,
    CodeNotFound,
    CodeTypo,
    InvalidCodeFormat,
    ItemNotRedeemable,
    NotMerchantStaff,
    OrderNotFound,
    OrderNotPending,
    TooManyAttempts,
    WrongMerchant,
)
from redemption.locks import order_lock, order_lock_for_fulfil, orders_lock_due_for_expiry
from redemption.models import (
    HISTORY_HASH_PREFIX,
    REDEEMABLE_ITEM_TYPES,
    AttemptKind,
    AttemptOutcome,
    Merchant,
    OrderStatus,
    RedemptionAttempt,
    RedemptionOrder,
    lock_holder,
)

logger = logging.getLogger(__name__)

MERCHANT_STAFF_GROUP = "merchant staff"  # created by migration 0002
CODE_ATTEMPTS = 3

REFUSAL_OUTCOMES = {
    InvalidCodeFormat: AttemptOutcome.TYPO,
    CodeTypo: AttemptOutcome.TYPO,
    CodeNotFound: AttemptOutcome.NOT_FOUND,
    CodeExpired: AttemptOutcome.EXPIRED,
    CodeAlreadyUsed: AttemptOutcome.ALREADY_USED,
    CodeCancelled: AttemptOutcome.CANCELLED,
    WrongMerchant: AttemptOutcome.WRONG_MERCHANT,
}


@dataclass(frozen=True)
class IssuedOrder:
    """A new order and its code, formatted XXXX-YYYY-ZZZZ: the one time the code exists."""

    order: RedemptionOrder
    code: str


@dataclass(frozen=True)
class Verification:
    """A code checked by merchant staff: the order (with its item) and where it is redeemed."""

    order: RedemptionOrder
    item: ItemInstance
    merchant: Merchant


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

    def due(after: int | None, size: int) -> list[int]:
        orders = RedemptionOrder.objects.filter(status=OrderStatus.PENDING, expires_at__lte=timezone.now())
        if after is not None:
            orders = orders.filter(pk__gt=after)
        return list(orders.order_by("pk").values_list("pk", flat=True)[:size])

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


def order_lookup(
    *, code: str, staff_user_id: int, ip: str | None = None, merchant_code: str | None = None
) -> Verification:
    """Show what a code gives, without consuming it. Refusals are those of `order_fulfil`."""
    return _verify(AttemptKind.LOOKUP, code=code, staff_user_id=staff_user_id, ip=ip, merchant_code=merchant_code)


def order_fulfil(
    *,
    code: str,
    staff_user_id: int,
    ip: str | None = None,
    merchant_code: str | None = None,
    repeat_gets_original: bool = False,
) -> Verification:
    """Redeem a code: the order is fulfilled and its item used, in one transaction.

    `repeat_gets_original`, for a device that retries a fulfil whose answer it lost (the merchant API): the
    staff user's own repeat, within REDEMPTION_FULFIL_RETRY_SECONDS, gets the original success. Without it
    (a person at the admin's verify page, a stale second tab) a repeat is refused as already used, saying
    when and where.
    """
    return _verify(
        AttemptKind.FULFIL,
        code=code,
        staff_user_id=staff_user_id,
        ip=ip,
        merchant_code=merchant_code,
        repeat_gets_original=repeat_gets_original,
    )


def _verify(
    kind: str,
    *,
    code: str,
    staff_user_id: int,
    ip: str | None,
    merchant_code: str | None,
    repeat_gets_original: bool = False,
) -> Verification:
    merchants = _staff_merchants(staff_user_id=staff_user_id, merchant_code=merchant_code)
    # The attempt takes its place under the failure limits before anything is checked (redemption/limits.py).
    slots = limits.attempt_slots(staff_user_id=staff_user_id, ip=ip)
    if slots is None:
        _attempt_record(kind, AttemptOutcome.THROTTLED, staff_user_id=staff_user_id, ip=ip)
        logger.warning("redemption %s throttled: staff %s, ip %s", kind, staff_user_id, ip)
        raise TooManyAttempts(retry_after_seconds=limits.seconds_until_window_ends())
    try:
        normalised = code_normalise(code)
        if kind == AttemptKind.FULFIL:
            verification = _fulfil(
                code_hash=code_hash(normalised),
                merchants=merchants,
                staff_user_id=staff_user_id,
                ip=ip,
                repeat_gets_original=repeat_gets_original,
            )
        else:
            verification = _lookup(
                code_hash=code_hash(normalised), merchants=merchants, staff_user_id=staff_user_id, ip=ip
            )
    except tuple(REFUSAL_OUTCOMES) as refusal:  # a failure: its place stays taken
        _attempt_record(
            kind,
            REFUSAL_OUTCOMES[type(refusal)],
            staff_user_id=staff_user_id,
            ip=ip,
            order_pk=getattr(refusal, "order_pk", None),
            merchant=getattr(refusal, "merchant", None),
        )
        logger.info(
            "redemption %s refused (%s): code %s, staff %s, ip %s",
            kind,
            refusal.code,
            code_hint(code),
            staff_user_id,
            ip,
        )
        raise
    except Exception:
        slots.release()
        raise
    slots.release()
    return verification


def _staff_merchants(*, staff_user_id: int, merchant_code: str | None) -> list[Merchant]:
    merchants = Merchant.objects.filter(staff__id=staff_user_id, active=True).order_by("code")
    if merchant_code:
        merchants = merchants.filter(code=merchant_code)
    merchants = list(merchants)
    if not merchants:
        raise NotMerchantStaff(merchant_code=merchant_code) if merchant_code else NotMerchantStaff()
    return merchants


@atomic_with_retry
def _fulfil(
    *, code_hash: str, merchants: list[Merchant], staff_user_id: int, ip: str | None, repeat_gets_original: bool
) -> Verification:
    # The order alone, with what its item restricts: the item is locked after it, by item_mark_used.
    order = order_lock_for_fulfil(code_hash=code_hash)
    if order is None:
        raise CodeNotFound()
    retried = _fulfil_retried(order, merchants=merchants, staff_user_id=staff_user_id) if repeat_gets_original else None
    if retried is not None:
        _attempt_record(
            AttemptKind.FULFIL,
            AttemptOutcome.OK,
            staff_user_id=staff_user_id,
            ip=ip,
            order_pk=order.pk,
            merchant=retried.merchant,
        )
        logger.info("redemption order %s: fulfil retried by staff %s, original answer", order.order_id, staff_user_id)
        return retried
    merchant = _redeemable_at(order, merchants, restricted_to=order.restricted_to)
    # The item's transition reads it (locked) once: its face value comes from there.
    item = item_mark_used(item_id=order.item_instance_id, locked_by=order.lock_holder, actor_id=staff_user_id)
    now = timezone.now()
    updated = RedemptionOrder.objects.filter(pk=order.pk, status=OrderStatus.PENDING).update(
        status=OrderStatus.FULFILLED,
        pending_item_id=None,
        fulfilled_at=now,
        redeemer_id=staff_user_id,
        merchant=merchant,
        face_value=_face_value(item),
        updated_at=now,
    )
    if updated == 0:  # cannot happen under the row lock; refuse rather than use the item twice
        raise _refusal(CodeAlreadyUsed(), order, merchant)
    order.status, order.pending_item_id, order.fulfilled_at = OrderStatus.FULFILLED, None, now
    order.redeemer_id, order.merchant, order.updated_at = staff_user_id, merchant, now
    order.item_instance = item
    event_record(event_type=EventType.CODE_REDEEMED, data=redeemed_event_data(order, item, merchant))
    _attempt_record(
        AttemptKind.FULFIL, AttemptOutcome.OK, staff_user_id=staff_user_id, ip=ip, order_pk=order.pk, merchant=merchant
    )
    logger.info("redemption order %s fulfilled at %s by staff %s", order.order_id, merchant.code, staff_user_id)
    return Verification(order=order, item=item, merchant=merchant)


def _face_value(item: ItemInstance) -> int | None:
    """The item's face value (core.money.face_value), kept on the fulfilled order: what the merchant settles on.
    None for an old item whose `meta.value` breaks the rule: it is redeemed, and settled as without a value."""
    return face_value(item.meta)


def _fulfil_retried(order: RedemptionOrder, *, merchants: list[Merchant], staff_user_id: int) -> Verification | None:
    """The original success, when the staff user who fulfilled this order asks again: their answer was
    lost (a dropped connection, a restarted server) and the counter retries.

    Only at a merchant of theirs where it was fulfilled, and within REDEMPTION_FULFIL_RETRY_SECONDS of it: the
    same code shown again later, or to any other staff user, is refused as already used.
    """
    if order.status != OrderStatus.FULFILLED or order.redeemer_id != staff_user_id:
        return None
    merchant = next((m for m in merchants if m.pk == order.merchant_id), None)
    retry_window = timedelta(seconds=settings.REDEMPTION_FULFIL_RETRY_SECONDS)
    if merchant is None or timezone.now() - order.fulfilled_at > retry_window:
        return None
    return Verification(order=order, item=order.item_instance, merchant=merchant)


def _lookup(*, code_hash: str, merchants: list[Merchant], staff_user_id: int, ip: str | None) -> Verification:
    order = RedemptionOrder.objects.select_related("item_instance", "customer").filter(code_hash=code_hash).first()
    if order is None:
        raise CodeNotFound()
    merchant = _redeemable_at(order, merchants, restricted_to=order.item_instance.merchant_code)
    _attempt_record(
        AttemptKind.LOOKUP, AttemptOutcome.OK, staff_user_id=staff_user_id, ip=ip, order_pk=order.pk, merchant=merchant
    )
    return Verification(order=order, item=order.item_instance, merchant=merchant)


def _redeemable_at(order: RedemptionOrder, merchants: list[Merchant], *, restricted_to: str | None) -> Merchant:
    """The caller's merchant where this order may be redeemed now, or the refusal that says why not.
    `restricted_to` is the merchant code of the order's item.

    Merchant scope comes first (SPEC §4): staff learn nothing of an order restricted to another merchant,
    and of an order used elsewhere only that it was used, not when or where.
    """
    merchant = next((m for m in merchants if m.code == restricted_to), merchants[0])
    if restricted_to and merchant.code != restricted_to:
        raise _refusal(WrongMerchant(merchant_code=merchant.code), order, merchant)
    if order.status == OrderStatus.FULFILLED:
        used_at = next((m for m in merchants if m.pk == order.merchant_id), None)
        if used_at is None:
            raise _refusal(CodeAlreadyUsed(), order, merchant)
        raise _refusal(
            CodeAlreadyUsed(
                f"The code was already used at {_when(order.fulfilled_at)} by {used_at.name}.",
                fulfilled_at=order.fulfilled_at.isoformat(),
                merchant=used_at.name,
            ),
            order,
            merchant,
        )
    if order.status == OrderStatus.CANCELLED:
        raise _refusal(CodeCancelled(), order, merchant)
    if order.status == OrderStatus.EXPIRED or order.expires_at <= timezone.now():
        raise _refusal(CodeExpired(expired_at=order.expires_at.isoformat()), order, merchant)
    return merchant


def _refusal(error: BackpackError, order: RedemptionOrder, merchant: Merchant) -> BackpackError:
    """Attach what the attempt record needs, without putting it in the response's details."""
    error.order_pk, error.merchant = order.pk, merchant
    return error


def _when(moment: datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M")


def _attempt_record(
    kind: str,
    outcome: str,
    *,
    staff_user_id: int,
    ip: str | None,
    order_pk: int | None = None,
    merchant: Merchant | None = None,
) -> None:
    RedemptionAttempt.objects.create(
        kind=kind, outcome=outcome, staff_user_id=staff_user_id, ip=ip, order_id=order_pk, merchant=merchant
    )


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
