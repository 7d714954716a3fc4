"""The SQL of the ledger's postings, its only module that writes: accounts read, holds and balance rows locked,
balances and holds written, entries and legs inserted."""

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import NamedTuple

from django.db import IntegrityError, connection
from django.utils import timezone

from core.db import bulk_insert, insert_one, update_one
from ledger.exceptions import AccountNotFound, InvalidEntry, UnknownAsset
from ledger.locks import balances_lock, holds_lock
from ledger.models import Account, AssetType, Balance, Hold, JournalEntry, JournalLeg


class Accounts(NamedTuple):
    """Ledger accounts resolved in one read: by user, by system code, and each account's owner (None: system)."""

    of_user: dict[int, int]
    of_system: dict[str, int]
    owners: dict[int, int | None]


def accounts_read(user_ids: set[int], system_codes: set[str]) -> Accounts:
    accounts = Accounts({}, {}, {})
    if not user_ids and not system_codes:
        return accounts
    match = " OR ".join(
        ([f"user_id IN ({', '.join(['%s'] * len(user_ids))})"] if user_ids else [])
        + ([f"system_code IN ({', '.join(['%s'] * len(system_codes))})"] if system_codes else [])
    )
    with connection.cursor() as cursor:  # SQL on the hot path, as ledger.locks.balances_lock
        cursor.execute(
            f"SELECT id, user_id, system_code FROM {connection.ops.quote_name(Account._meta.db_table)} WHERE {match}",
            [*user_ids, *system_codes],
        )
        rows = cursor.fetchall()
    for account_id, user_id, system_code in rows:
        if user_id is not None:
            accounts.of_user[user_id] = account_id
        elif system_code in system_codes:  # exactly: the column's collation is case-blind
            accounts.of_system[system_code] = account_id
        accounts.owners[account_id] = user_id
    return accounts


def owners_read(account_ids: set[int], known: Mapping[int, int | None] | None) -> dict[int, int | None]:
    """{account id: owner user id or None} of these accounts, reading only those the caller did not give."""
    owners = {account_id: known[account_id] for account_id in account_ids if known and account_id in known}
    missing = account_ids - owners.keys()
    if missing:
        owners |= dict(Account.objects.filter(pk__in=missing).values_list("pk", "user_id"))
        if len(owners) != len(account_ids):
            raise AccountNotFound(account_ids=sorted(account_ids - owners.keys()))
    return owners


def holds_locked(hold_ids: list[int]) -> dict[int, Hold]:
    if not hold_ids:
        return {}
    holds = holds_lock(hold_ids=hold_ids)
    missing = set(hold_ids) - holds.keys()
    if missing:
        raise InvalidEntry("No such hold.", hold_ids=sorted(missing))
    return holds


def balances_locked(keys: set[tuple[int, str]], owners: Mapping[int, int | None]) -> dict[tuple[int, str], Balance]:
    """Lock the balance rows of the keys in one statement (ledger.locks.balances_lock), creating missing ones.

    A missing row is inserted after its asset is found in the catalog, exactly (INSERT IGNORE: a
    concurrent transaction may insert it first), then locked.
    """
    balances = _exactly(balances_lock(keys=keys))
    missing = sorted(keys - balances.keys())
    if missing:
        codes = {code for _, code in missing}
        unknown = codes - set(AssetType.objects.filter(pk__in=codes).values_list("pk", flat=True))
        if unknown:  # the catalog's codes as stored: "diamond" is not "DIAMOND", whatever the collation says
            raise UnknownAsset(asset_codes=sorted(unknown))
        Balance.objects.bulk_create(
            [Balance(account_id=a, asset_id=c, allows_negative=owners[a] is None) for a, c in missing],
            ignore_conflicts=True,
        )
        balances |= _exactly(balances_lock(keys=set(missing)))
        if len(balances) < len(keys):  # a row of another case of the code: not the asset asked for
            raise UnknownAsset(asset_codes=sorted({code for _, code in keys - balances.keys()}))
    return balances


def _exactly(rows: list[Balance]) -> dict[tuple[int, str], Balance]:
    # Keyed by the code as stored: a code that differs in case only matched through the column's case-blind
    # collation, and is not the key asked for.
    return {(row.account_id, row.asset_id): row for row in rows}


def balances_save(balances) -> None:
    """Write locked balance rows back in one UPDATE (a CASE on their ids)."""
    balances = list(balances)
    cases = " ".join(["WHEN %s THEN %s"] * len(balances))
    ids = ", ".join(["%s"] * len(balances))
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {connection.ops.quote_name(Balance._meta.db_table)} SET "
            f"available_amount = CASE id {cases} END, frozen_amount = CASE id {cases} END, updated_at = %s "
            f"WHERE id IN ({ids})",
            [v for b in balances for v in (b.pk, b.available_amount)]
            + [v for b in balances for v in (b.pk, b.frozen_amount)]
            + [connection.ops.adapt_datetimefield_value(timezone.now())]
            + [b.pk for b in balances],
        )


def entries_by_key(keys: set[tuple[str, str]]) -> dict[tuple[str, str], JournalEntry]:
    by_type = defaultdict(list)
    for business_type, business_id in keys:
        by_type[business_type].append(business_id)
    found = {}
    for business_type, business_ids in by_type.items():
        for entry in JournalEntry.objects.filter(business_type=business_type, business_id__in=business_ids):
            found[(entry.business_type, entry.business_id)] = entry
    return found


def entry_insert(entry: JournalEntry) -> bool:
    """Insert the entry; False when its key is taken (its unique key is the replay check).

    No savepoint: a failed INSERT undoes only itself on MariaDB/MySQL and SQLite (core/checks.py refuses
    databases where it is not so), and nothing else is undone with it.
    """
    try:
        insert_one(entry)
    except IntegrityError:
        return False
    return True


def entries_insert(entries: Sequence[JournalEntry]) -> None:
    """Insert new entries in one statement (a batch, whose keys were found free under the balance locks)."""
    bulk_insert(JournalEntry, entries)


def holds_save(holds: Sequence[Hold]) -> None:
    """Write what the entry took out of these locked holds."""
    for hold in holds:
        update_one(Hold, hold.pk, remaining=hold.remaining, status=hold.status, updated_at=timezone.now())


def legs_insert(legs: Sequence[JournalLeg]) -> None:
    """Insert the entry's legs in one statement."""
    bulk_insert(JournalLeg, legs)
