"""Row locks of the assets track: holds, then balance rows (core/locks.py)."""

from django.db import connection

from core.locks import rows_lock
from ledger.models import BALANCE_KEY, Balance, Hold, IssuanceDay


def holds_lock(*, hold_ids: list[int]) -> dict[int, Hold]:
    return {hold.pk: hold for hold in rows_lock(Hold, hold_ids)}


def balances_lock(*, keys: set[tuple[int, str]]) -> list[Balance]:
    """The balance rows of these (account id, asset code) keys, users' and system accounts' alike, in one
    statement that locks them in the order of the (account, asset) unique index.

    Written as SQL: the hot path of every posting, where compiling the query cost more than running it.
    """
    if not keys:
        return []
    table = connection.ops.quote_name(Balance._meta.db_table)
    match = " OR ".join(["(account_id = %s AND asset_code = %s)"] * len(keys))
    lock, index = "", ""
    if connection.features.has_select_for_update:
        lock = " " + connection.ops.for_update_sql()
    if connection.vendor == "mysql":
        # A locking read locks every row it scans: on a small or freshly analysed table the optimizer may
        # scan rather than seek, and wait on rows of other accounts (a held fee slot). Seek, always.
        index = f" FORCE INDEX ({connection.ops.quote_name(BALANCE_KEY)})"
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id, account_id, asset_code, available_amount, frozen_amount, allows_negative FROM {table}{index} "
            f"WHERE {match} ORDER BY account_id, asset_code{lock}",
            [value for key in sorted(keys) for value in key],
        )
        return [
            Balance(
                id=id_,
                account_id=account_id,
                asset_id=code,
                available_amount=available,
                frozen_amount=frozen,
                allows_negative=bool(allows_negative),
            )
            for id_, account_id, code, available, frozen, allows_negative in cursor.fetchall()
        ]


def issuance_day_lock(*, issuer_id: int, asset_code: str, day) -> IssuanceDay | None:
    return IssuanceDay.objects.select_for_update().filter(issuer_id=issuer_id, asset_id=asset_code, day=day).first()
