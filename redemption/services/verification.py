"""Codes checked at the counter: lookup and fulfil, under the failure limits, each attempt recorded."""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.utils import timezone

from core.db import atomic_with_retry
from core.errors import BackpackError
from core.models import EventType
from core.money import face_value
from core.services import event_record
from items.services import item_mark_used
from redemption import limits
from redemption.codes import code_hash, code_hint, code_normalise
from redemption.events import redeemed_event_data
from redemption.exceptions import (
    CodeAlreadyUsed,
    CodeCancelled,
    CodeExpired,
    CodeNotFound,
    CodeTypo,
    InvalidCodeFormat,
    NotMerchantStaff,
    TooManyAttempts,
    WrongMerchant,
)
from redemption.locks import order_lock_for_fulfil
from redemption.models import AttemptKind, AttemptOutcome, Merchant, OrderStatus, RedemptionAttempt, RedemptionOrder

if TYPE_CHECKING:
    from items.models import ItemInstance

logger = logging.getLogger(__name__)

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
class Verification:
    """A code checked by merchant staff: the order (with its item) and where it is redeemed."""

    order: RedemptionOrder
    item: "ItemInstance"
    merchant: Merchant


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
    # The item's transition reads it (locked) once: its face value comes from there, kept on the order as what
    # the merchant settles on (None for an old item whose `meta.value` breaks the rule: settled without a value).
    item = item_mark_used(item_id=order.item_instance_id, locked_by=order.lock_holder, actor_id=staff_user_id)
    now = timezone.now()
    updated = RedemptionOrder.objects.filter(pk=order.pk, status=OrderStatus.PENDING).update(
        status=OrderStatus.FULFILLED,
        pending_item_id=None,
        fulfilled_at=now,
        redeemer_id=staff_user_id,
        merchant=merchant,
        face_value=face_value(item.meta),
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
