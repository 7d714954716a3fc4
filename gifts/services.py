"""Gifts between customers (SPEC §11): the only writer of gifts.

One transaction: the sender's row lock (core/locks.py, first), then the replay check and the daily
limits under it, then the gift row, then the item's change of owner (its row lock) or one balanced
ledger entry (the balance rows), then the events. A retry with the same Idempotency-Key returns the
first gift and moves nothing.
"""

import hashlib
import json
from typing import NamedTuple

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Count, Q, Sum
from django.utils import timezone

from core.amounts import require_positive
from core.authority import is_service_account
from core.db import atomic_with_retry
from core.errors import Forbidden
from core.keys import is_idempotency_key
from core.locks import user_lock
from core.models import EventType
from core.services import Event, events_record
from core.timeseries import local_midnight
from gifts.exceptions import (
    AssetNotGiftable,
    CannotGiftToSelf,
    GiftLimitExceeded,
    InvalidGift,
    RecipientIsServiceAccount,
    RecipientNotFound,
)
from gifts.models import GIFT_BUSINESS_TYPE, Gift
from items.selectors import item_get_for_owner
from items.services import item_gift
from ledger.exceptions import AssetNotFound, IdempotencyConflict, InsufficientBalance, UnknownAsset
from ledger.selectors import asset_get, balance_get
from ledger.services import transfer

MESSAGE_MAX_LENGTH = 200


class GiftResult(NamedTuple):
    gift: Gift
    created: bool


@atomic_with_retry
def gift_send(
    *,
    actor,
    to_username: str,
    idempotency_key: str,
    item_instance_id: int | None = None,
    asset_code: str | None = None,
    amount: int | None = None,
    message: str = "",
) -> GiftResult:
    """`actor` gives one of their items, or an amount of a tradable asset, to the user named `to_username`.

    The item must be the actor's, available and unexpired (not locked by an order or a listing).
    Refusals leave everything as it was. Within the daily limits of settings.GIFT_DAILY_*.
    """
    if actor is None or not actor.is_active:
        raise Forbidden("You may not do this.")
    message = (message or "").strip()
    _validate(idempotency_key, item_instance_id, asset_code, amount, message)
    fingerprint = _fingerprint(to_username, item_instance_id, asset_code, amount, message)

    user_lock(user_id=actor.pk)
    previous = Gift.objects.filter(sender_id=actor.pk, idempotency_key=idempotency_key).first()
    if previous is not None:
        if previous.fingerprint != fingerprint:
            raise IdempotencyConflict(idempotency_key=idempotency_key)
        return GiftResult(previous, created=False)

    if to_username == actor.get_username():
        raise CannotGiftToSelf()
    # What the sender offers is checked before whom it goes to, so that probing usernames takes a real gift.
    if item_instance_id is not None:
        item_get_for_owner(owner_id=actor.pk, item_id=item_instance_id)
    else:
        _check_asset(actor.pk, asset_code, amount)
    _check_daily_limits(actor.pk, asset_code, amount)
    recipient = _recipient(to_username)

    gift = Gift.objects.create(
        sender_id=actor.pk,
        recipient_id=recipient.pk,
        item_instance_id=item_instance_id,
        asset_id=asset_code,
        amount=amount,
        message=message,
        idempotency_key=idempotency_key,
        fingerprint=fingerprint,
    )
    if item_instance_id is not None:
        item = item_gift(
            item_id=item_instance_id, from_owner_id=actor.pk, to_owner_id=recipient.pk, business_ref=gift.item_reference
        )
        what = {"item_id": item.pk, "item_type": item.item_type, "name": item.name}
    else:
        result = transfer(
            from_user_id=actor.pk,
            to_user_id=recipient.pk,
            asset_code=asset_code,
            amount=amount,
            business_type=GIFT_BUSINESS_TYPE,
            business_id=f"{actor.pk}:{idempotency_key}",
            meta={"gift_id": gift.pk},
            actor_id=actor.pk,
        )
        gift.entry = result.entry
        gift.save(update_fields=["entry"])
        what = {"asset_code": asset_code, "amount": amount, "entry_id": result.entry.pk}
    data = {"gift_id": gift.pk, "sender_id": actor.pk, "recipient_id": recipient.pk, **what, "message": message}
    events_record(events=[Event(EventType.GIFT_SENT, data), Event(EventType.GIFT_RECEIVED, data)])
    return GiftResult(gift, created=True)


def _validate(idempotency_key, item_instance_id, asset_code, amount, message) -> None:
    if not is_idempotency_key(idempotency_key):
        raise InvalidGift("An Idempotency-Key of 1 to 64 characters of [A-Za-z0-9_.:-] is required.")
    if (item_instance_id is None) == (asset_code is None):
        raise InvalidGift("Give either an item_instance_id or an asset_code with an amount.")
    if item_instance_id is not None and amount is not None:
        raise InvalidGift("An item is given whole: no amount.")
    if asset_code is not None:
        require_positive(InvalidGift, amount=amount)
    if len(message) > MESSAGE_MAX_LENGTH:
        raise InvalidGift(f"A message has at most {MESSAGE_MAX_LENGTH} characters.")


def _fingerprint(to_username, item_instance_id, asset_code, amount, message) -> str:
    canonical = [to_username, item_instance_id, asset_code, amount, message]
    return hashlib.sha256(json.dumps(canonical, separators=(",", ":")).encode()).hexdigest()


def _check_asset(sender_id: int, asset_code: str, amount: int) -> None:
    """A clear refusal before anything moves; the ledger entry is what guarantees the balance."""
    try:
        asset = asset_get(asset_code=asset_code)
    except AssetNotFound:  # a field of the request, as in a listing: 400
        raise UnknownAsset(asset_codes=[asset_code]) from None
    if not asset["is_tradable"]:
        raise AssetNotGiftable(asset_code=asset_code)
    has = balance_get(user_id=sender_id, asset_code=asset_code)["available_amount"]
    if has < amount:
        raise InsufficientBalance(asset_code=asset_code, available=has, required=amount)


def _check_daily_limits(sender_id: int, asset_code: str | None, amount: int | None) -> None:
    """Gifts per calendar day (TIME_ZONE) and, for an asset, the amount given per day; counted under the sender's lock."""
    start = local_midnight(timezone.localdate())
    today = Gift.objects.filter(sender_id=sender_id, created_at__gte=start).aggregate(
        count=Count("id"), amount=Sum("amount", filter=Q(asset_id=asset_code), default=0)
    )
    if today["count"] >= settings.GIFT_DAILY_COUNT:
        raise GiftLimitExceeded(limit=settings.GIFT_DAILY_COUNT, sent_today=today["count"])
    if asset_code is not None:
        limit = settings.GIFT_DAILY_AMOUNTS.get(asset_code, settings.GIFT_DAILY_AMOUNTS["*"])
        if today["amount"] + amount > limit:
            raise GiftLimitExceeded(asset_code=asset_code, limit=limit, given_today=today["amount"], amount=amount)


def _recipient(username: str):
    """The active user with exactly this name (the database's collation ignores case; names do not)."""
    user = get_user_model().objects.filter(username=username, is_active=True).first()
    if user is None or user.get_username() != username:
        raise RecipientNotFound()
    if is_service_account(user):
        raise RecipientIsServiceAccount()
    return user
