"""Row locks of the assets track: holds, then users' balance rows, then system accounts' (core/locks.py)."""

from core.locks import in_lock_order
from ledger.models import Balance, Hold, IssuanceDay


def holds_lock(*, hold_ids: list[int]) -> dict[int, Hold]:
    return {hold.pk: hold for hold in in_lock_order(Hold.objects.filter(pk__in=hold_ids))}


def balance_lock(*, account_id: int, asset_code: str) -> Balance | None:
    return Balance.objects.select_for_update().filter(account_id=account_id, asset_id=asset_code).first()


def balances_lock(*, account_ids: set[int], asset_codes: set[str]) -> list[Balance]:
    """Every balance row of these accounts in these assets, in one statement, by (account, asset).

    For bulk work: callers lock users' rows and system rows in two calls, users' first.
    """
    return list(
        Balance.objects.select_for_update()
        .filter(account_id__in=account_ids, asset_id__in=asset_codes)
        .order_by("account_id", "asset_id")
    )


def issuance_day_lock(*, issuer_id: int, asset_code: str, day) -> IssuanceDay | None:
    return IssuanceDay.objects.select_for_update().filter(issuer_id=issuer_id, asset_id=asset_code, day=day).first()
