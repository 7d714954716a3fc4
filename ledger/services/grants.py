"""Grants: assets minted to a user by an issuer or operator, within the issuer's limits of the day."""

import re

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from core.amounts import require_positive
from core.authority import require_permission
from core.db import atomic_with_retry
from core.models import EventType
from core.services import event_record
from ledger.exceptions import IdempotencyConflict, InvalidEntry, IssuanceLimitExceeded, UnknownAsset
from ledger.locks import issuance_day_lock
from ledger.models import (
    GRANT_TYPE_MAX_LENGTH,
    GRANT_TYPE_PATTERN,
    AssetType,
    IssuanceDay,
    JournalEntry,
    grant_business_type,
)
from ledger.posting import PostResult, rules
from ledger.selectors import issuance_limit
from ledger.services.transfers import balance_change, balance_change_legs
from ledger.signals import issuance_refused


def asset_grant(
    *,
    actor,
    user_id: int,
    asset_code: str,
    amount: int,
    business_type: str,
    business_id: str,
    meta: dict | None = None,
) -> PostResult:
    """Mint `amount` of an asset to a user for an issuer or an operator (ledger.grant_assets).

    Within the actor's issuance limits (per grant and per day, ledger.selectors.issuance_limit):
    over them, IssuanceLimitExceeded with nothing posted, and `issuance_refused` is sent for the
    alert. A replay by the same actor returns the original entry; another actor's key conflicts.
    """
    require_permission(actor, "ledger.grant_assets")
    require_positive(InvalidEntry, amount=amount)
    if not isinstance(business_type, str) or not re.fullmatch(GRANT_TYPE_PATTERN, business_type):
        raise InvalidEntry("A grant's business_type is [a-z][a-z0-9_]*.", business_type=repr(business_type)[:100])
    if len(business_type) > GRANT_TYPE_MAX_LENGTH:
        raise InvalidEntry(f"A grant's business_type has at most {GRANT_TYPE_MAX_LENGTH} characters.")
    try:
        return _asset_grant(
            actor_id=actor.pk,
            user_id=user_id,
            asset_code=asset_code,
            amount=amount,
            business_type=business_type,
            business_id=business_id,
            meta=meta,
        )
    except IssuanceLimitExceeded as refusal:
        issuance_refused.send(
            sender=asset_grant, actor_id=actor.pk, asset_code=asset_code, amount=amount, details=refusal.details
        )
        raise


@atomic_with_retry
def _asset_grant(
    *, actor_id: int, user_id: int, asset_code: str, amount: int, business_type: str, business_id: str, meta
) -> PostResult:
    if AssetType.objects.filter(pk=asset_code).values_list("pk", flat=True).first() != asset_code:  # exactly
        raise UnknownAsset(asset_codes=[asset_code])
    day = _issuance_day_locked(issuer_id=actor_id, asset_code=asset_code, day=timezone.localdate())
    key = {"business_type": business_type, "business_id": business_id}
    earlier = _grant_without_namespace(actor_id, user_id, asset_code, amount, meta, **key)
    if earlier is not None:
        return earlier
    result = balance_change(
        user_id=user_id,
        asset_code=asset_code,
        delta=amount,
        actor_id=actor_id,
        business_type=grant_business_type(business_type),
        business_id=business_id,
        meta=meta,
    )
    if not result.created:
        if result.entry.actor_id != actor_id:
            raise IdempotencyConflict(**key)
        return result
    max_per_grant, max_per_day = issuance_limit(issuer_id=actor_id, asset_code=asset_code)
    if amount > max_per_grant or day.amount + amount > max_per_day:
        raise IssuanceLimitExceeded(  # rolls the posting back
            asset_code=asset_code,
            amount=amount,
            max_per_grant=max_per_grant,
            max_per_day=max_per_day,
            granted_today=day.amount,
        )
    IssuanceDay.objects.filter(pk=day.pk).update(amount=F("amount") + amount)
    event_record(
        event_type=EventType.ASSET_GRANTED,
        data={
            "entry_id": result.entry.pk,
            "user_id": user_id,
            "asset_code": asset_code,
            "amount": amount,
            "actor_id": actor_id,
            "meta": meta,
            **key,
        },
    )
    return result


def _grant_without_namespace(
    actor_id: int, user_id: int, asset_code: str, amount: int, meta, *, business_type: str, business_id: str
) -> PostResult | None:
    """A grant made before grants had their namespace, under the type as given: its replay is answered with it.

    The same actor and content is that grant's replay; anything else under that key (another actor's
    grant, or a service's own entry) conflicts, as it did then. None when nothing has the plain key.
    """
    entry = JournalEntry.objects.filter(business_type=business_type, business_id=business_id).first()
    if entry is None:
        return None
    legs, _ = balance_change_legs(user_id, asset_code, amount, business_type)
    if entry.actor_id != actor_id or entry.fingerprint != rules.fingerprint(legs, (), meta or {}):
        raise IdempotencyConflict(business_type=business_type, business_id=business_id)
    return PostResult(entry, created=False)


def _issuance_day_locked(*, issuer_id: int, asset_code: str, day) -> IssuanceDay:
    """The issuer's counter of the day for the asset, created on first use, locked."""
    counter = issuance_day_lock(issuer_id=issuer_id, asset_code=asset_code, day=day)
    if counter is None:
        try:
            with transaction.atomic():
                IssuanceDay.objects.create(issuer_id=issuer_id, asset_id=asset_code, day=day)
        except IntegrityError:  # created concurrently: lock that one
            pass
        counter = issuance_day_lock(issuer_id=issuer_id, asset_code=asset_code, day=day)
    return counter
