"""Row locks of the assets track: holds, then balance rows (core/locks.py)."""

from django.db.models import Q

from core.locks import in_lock_order
from ledger.models import Balance, Hold, IssuanceDay


def holds_lock(*, hold_ids: list[int]) -> dict[int, Hold]:
    return {hold.pk: hold for hold in in_lock_order(Hold.objects.filter(pk__in=hold_ids))}


def balances_lock(*, keys: set[tuple[int, str]]) -> list[Balance]:
    """The balance rows of these (account id, asset code) keys, users' and system accounts' alike, in one
    statement that locks them in the order of the (account, asset) unique index."""
    if not keys:
        return []
    match = Q()
    for account_id, asset_code in sorted(keys):
        match |= Q(account_id=account_id, asset_id=asset_code)
    return list(Balance.objects.select_for_update().filter(match).order_by("account_id", "asset_id"))


def issuance_day_lock(*, issuer_id: int, asset_code: str, day) -> IssuanceDay | None:
    return IssuanceDay.objects.select_for_update().filter(issuer_id=issuer_id, asset_id=asset_code, day=day).first()
