"""Holds: an amount frozen for a business (a listing), released back or settled away."""

from core.amounts import require_positive
from core.db import atomic_with_retry
from ledger.exceptions import InvalidEntry
from ledger.models import Hold
from ledger.posting import HoldChange, Leg, PostResult, entry_post
from ledger.services.accounts import accounts_get


@atomic_with_retry
def hold_create(
    *, user_id: int, asset_code: str, amount: int, business_type: str, business_id: str, meta: dict | None = None
) -> Hold:
    """Freeze `amount` of a user's available balance under a new hold (idempotent by key)."""
    require_positive(InvalidEntry, amount=amount)
    accounts = accounts_get(user_ids={user_id})
    account_id = accounts.of_user[user_id]
    result = entry_post(
        business_type=business_type,
        business_id=business_id,
        legs=[Leg(account_id=account_id, asset_code=asset_code, delta_available=-amount, delta_frozen=amount)],
        meta=meta,
        owners=accounts.owners,
    )
    if not result.created:
        return Hold.objects.get(entry=result.entry)
    return Hold.objects.create(
        account_id=account_id, asset_id=asset_code, amount=amount, remaining=amount, entry=result.entry
    )


@atomic_with_retry
def hold_release(
    *,
    hold_id: int,
    business_type: str,
    business_id: str,
    amount: int | None = None,
    meta: dict | None = None,
    actor_id: int | None = None,
) -> PostResult:
    """Unfreeze part of a hold (all that remains by default) back to available."""
    return entry_post(
        business_type=business_type,
        business_id=business_id,
        legs=[],
        hold_changes=[HoldChange(hold_id=hold_id, amount=amount, release=True)],
        meta=meta,
        actor_id=actor_id,
    )


@atomic_with_retry
def hold_settle(
    *, hold_id: int, amount: int, to_account_id: int, business_type: str, business_id: str, meta: dict | None = None
) -> PostResult:
    """Pay `amount` of a hold from the holder's frozen balance to another account's available."""
    require_positive(InvalidEntry, amount=amount)
    hold = Hold.objects.filter(pk=hold_id).first()
    if hold is None:
        raise InvalidEntry("No such hold.", hold_id=hold_id)
    return entry_post(
        business_type=business_type,
        business_id=business_id,
        legs=[Leg(account_id=to_account_id, asset_code=hold.asset_id, delta_available=amount)],
        hold_changes=[HoldChange(hold_id=hold_id, amount=amount)],
        meta=meta,
    )
