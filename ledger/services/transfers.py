"""Moves of available balance: a credit or debit against a system account, and a transfer between users."""

from core.amounts import require_positive
from core.db import atomic_with_retry
from ledger.exceptions import InvalidEntry
from ledger.models import SystemAccount
from ledger.posting import Leg, PostResult, entry_post
from ledger.posting.store import Accounts
from ledger.services.accounts import accounts_get, system_slot_code


def _counterparty(business_type: str, delta: int) -> SystemAccount:
    explicit = {"adjustment": SystemAccount.ADJUSTMENT, "migration": SystemAccount.MIGRATION}
    if business_type in explicit:
        return explicit[business_type]
    return SystemAccount.ISSUANCE if delta > 0 else SystemAccount.BURN


@atomic_with_retry(savepoint=False)
def balance_change(
    *,
    user_id: int,
    asset_code: str,
    delta: int,
    business_type: str,
    business_id: str,
    meta: dict | None = None,
    actor_id: int | None = None,
) -> PostResult:
    """Credit (delta > 0) or debit a user's available balance against a system account.

    Credits come from SYSTEM_ISSUANCE and debits go to SYSTEM_BURN, except for the
    business types with their own counterparty (adjustment, migration). A building block
    of other services, which check authority first: people and services grant through
    `asset_grant`.
    """
    legs, accounts = balance_change_legs(user_id, asset_code, delta, business_type)
    return entry_post(
        business_type=business_type,
        business_id=business_id,
        legs=legs,
        meta=meta,
        actor_id=actor_id,
        owners=accounts.owners,
    )


def balance_change_legs(user_id: int, asset_code: str, delta: int, business_type: str) -> tuple[list[Leg], Accounts]:
    if type(delta) is not int or delta == 0:
        raise InvalidEntry("delta is a non-zero integer.", delta=repr(delta))
    system_code = system_slot_code(_counterparty(business_type, delta), user_id=user_id)
    accounts = accounts_get(user_ids={user_id}, system_codes={system_code})
    legs = [
        Leg(account_id=accounts.of_user[user_id], asset_code=asset_code, delta_available=delta),
        Leg(account_id=accounts.of_system[system_code], asset_code=asset_code, delta_available=-delta),
    ]
    return legs, accounts


@atomic_with_retry(savepoint=False)
def transfer(
    *,
    from_user_id: int,
    to_user_id: int,
    asset_code: str,
    amount: int,
    business_type: str,
    business_id: str,
    meta: dict | None = None,
    actor_id: int | None = None,
) -> PostResult:
    """Move `amount` of an asset from one user's available balance to another's."""
    require_positive(InvalidEntry, amount=amount)
    if from_user_id == to_user_id:
        raise InvalidEntry("Cannot transfer to the same user.")
    accounts = accounts_get(user_ids={from_user_id, to_user_id})
    return entry_post(
        business_type=business_type,
        business_id=business_id,
        legs=[
            Leg(account_id=accounts.of_user[from_user_id], asset_code=asset_code, delta_available=-amount),
            Leg(account_id=accounts.of_user[to_user_id], asset_code=asset_code, delta_available=amount),
        ],
        meta=meta,
        actor_id=actor_id,
        owners=accounts.owners,
    )
