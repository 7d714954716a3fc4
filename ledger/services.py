"""Every write to the assets track.

Each service takes its locks (ledger/locks.py, in the order of core/locks.py) before it
reads what it checks, then writes, in one transaction.
"""

import hashlib
import json
from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from core.amounts import require_positive
from core.authority import require_permission
from core.db import atomic_with_retry, bulk_insert, insert_one, update_one
from core.errors import InvalidInput
from core.models import EventType
from core.services import backpack_versions_bump, event_record
from ledger.exceptions import (
    AccountNotFound,
    HoldAmountExceeded,
    HoldNotOpen,
    IdempotencyConflict,
    InsufficientBalance,
    InvalidEntry,
    IssuanceLimitExceeded,
    UnknownAsset,
)
from ledger.locks import balances_lock, holds_lock, issuance_day_lock
from ledger.models import (
    SLOTTED_SYSTEM_ACCOUNTS,
    SYSTEM_ACCOUNT_SLOTS,
    Account,
    AccountKind,
    AssetType,
    AuditAction,
    Balance,
    BalanceAudit,
    Hold,
    HoldStatus,
    IssuanceDay,
    JournalEntry,
    JournalLeg,
    SystemAccount,
)
from ledger.selectors import issuance_limit, journal_sums
from ledger.signals import issuance_refused


@dataclass(frozen=True)
class Leg:
    """One line of an entry: what it does to one account's balance of one asset."""

    account_id: int
    asset_code: str
    delta_available: int = 0
    delta_frozen: int = 0
    meta: dict = field(default_factory=dict)


@dataclass(frozen=True)
class HoldChange:
    """Take an amount out of an open hold within an entry: settle it away, or release it back.

    `amount=None` takes all that remains, as found under the lock. A settle may give `released` of
    `amount` back to available rather than settling it away (a buy order's fill under its limit price).
    """

    hold_id: int
    amount: int | None = None
    release: bool = False
    released: int = 0


class PostResult(NamedTuple):
    entry: JournalEntry
    created: bool


@dataclass(frozen=True)
class EntrySpec:
    """One entry of a batch: its business key, its legs and its meta."""

    business_type: str
    business_id: str
    legs: Sequence[Leg]
    meta: dict = field(default_factory=dict)


class Accounts(NamedTuple):
    """Ledger accounts resolved in one read: by user, by system code, and each account's owner (None: system)."""

    of_user: dict[int, int]
    of_system: dict[str, int]
    owners: dict[int, int | None]


def accounts_get(*, user_ids: Collection[int] = (), system_codes: Collection[str] = ()) -> Accounts:
    """The accounts of these users and system codes in one statement, creating the missing ones race-free."""
    user_ids, system_codes = set(user_ids), set(system_codes)
    found = _accounts_read(user_ids, system_codes)
    if len(found.of_user) < len(user_ids) or len(found.of_system) < len(system_codes):
        Account.objects.bulk_create(
            [Account(kind=AccountKind.USER, user_id=u) for u in sorted(user_ids - found.of_user.keys())]
            + [Account(kind=AccountKind.SYSTEM, system_code=c) for c in sorted(system_codes - found.of_system.keys())],
            ignore_conflicts=True,  # created meanwhile by another transaction, or a user that does not exist
        )
        found = _accounts_read(user_ids, system_codes)
        if len(found.of_user) < len(user_ids):
            raise AccountNotFound("No such user.", user_ids=sorted(user_ids - found.of_user.keys()))
    return found


def _accounts_read(user_ids: set[int], system_codes: set[str]) -> Accounts:
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


def account_get_or_create(*, user_id: int | None = None, system_code: str | None = None) -> Account:
    """The ledger account of a user or a system account, created on first use, race-free."""
    if (user_id is None) == (system_code is None):
        raise ValueError("Give exactly one of user_id and system_code.")
    accounts = accounts_get(user_ids={user_id} - {None}, system_codes={system_code} - {None})
    return Account.objects.get(pk=accounts.of_user[user_id] if user_id is not None else accounts.of_system[system_code])


def system_account_id(code: str) -> int:
    """The account of a system code (one slot of a slotted account: `system_slot_code`)."""
    return accounts_get(system_codes={code}).of_system[code]


def system_slot_code(code: SystemAccount, *, user_id: int) -> str:
    """The slot of a hot system account that a posting for `user_id` uses (ledger.models.SLOTTED_SYSTEM_ACCOUNTS).

    Chosen by the user, not at random: a replay posts to the same account (the entry's fingerprint), and one
    user's postings, which queue on the user's own rows anyway, never wait on each other's slot.
    """
    if code not in SLOTTED_SYSTEM_ACCOUNTS:
        return code
    slot = user_id % SYSTEM_ACCOUNT_SLOTS
    return code if slot == 0 else f"{code}:{slot}"


@atomic_with_retry(savepoint=False)
def entry_post(
    *,
    business_type: str,
    business_id: str,
    legs: Sequence[Leg],
    hold_changes: Sequence[HoldChange] = (),
    meta: dict | None = None,
    actor_id: int | None = None,
    owners: Mapping[int, int | None] | None = None,
    bumped: Collection[int] = (),
) -> PostResult:
    """Post one balanced journal entry, once per (business_type, business_id).

    A replay with the same content returns the original entry and changes nothing; the
    same key with different content raises IdempotencyConflict. Hold changes add the
    holder's frozen legs themselves; the caller gives the counter legs. `actor_id` records
    who asked (it is not part of the content: callers that care compare it on replays).
    `owners` ({account id: user id, None for a system account}) spares reading accounts the
    caller has just read (`accounts_get`); `bumped`, the users whose backpack versions the caller
    has bumped in this transaction already (an item sale's item transfer).

    The statements: lock the holds; read the accounts (unless given); bump the owners' backpack
    versions; lock every balance row in one statement; insert the entry (its unique key is the
    replay check: nothing is checked against the balances or holds before it, so a replay is
    answered whatever happened since); write the balances in one statement, then the holds, then
    the legs in one. A refusal after the insert rolls the whole transaction back.
    """
    meta = meta or {}
    _validate(business_type, business_id, legs, hold_changes)
    fingerprint = _fingerprint(legs, hold_changes, meta)
    holds = _lock_holds([change.hold_id for change in hold_changes])
    keys = {(leg.account_id, leg.asset_code) for leg in legs} | {(h.account_id, h.asset_id) for h in holds.values()}
    owners = _owners({account_id for account_id, _ in keys}, owners)
    backpack_versions_bump(user_ids=set(owners.values()) - set(bumped))
    balances = _lock_balances(keys, owners)

    entry = JournalEntry(
        business_type=business_type, business_id=business_id, fingerprint=fingerprint, meta=meta, actor_id=actor_id
    )
    try:
        insert_one(entry)
    except IntegrityError:
        # Posted before (balances locked, so a concurrent twin has committed by now): a replay, or the key
        # reused with other content. Nothing was written yet, and the failed INSERT alone was undone
        # (MariaDB/MySQL and SQLite; core/checks.py refuses databases where it is not so).
        existing = JournalEntry.objects.get(business_type=business_type, business_id=business_id)
        return PostResult(_replayed(existing, fingerprint), created=False)
    all_legs = list(legs) + [_apply_hold_change(holds[change.hold_id], change) for change in hold_changes]
    _check_balanced(all_legs)
    rows = _apply_legs(entry, all_legs, balances)
    _save_balances(balances.values())
    for change in hold_changes:
        hold = holds[change.hold_id]
        update_one(Hold, hold.pk, remaining=hold.remaining, status=hold.status, updated_at=timezone.now())
    bulk_insert(JournalLeg, rows)
    return PostResult(entry, created=True)


def _owners(account_ids: set[int], known: Mapping[int, int | None] | None) -> dict[int, int | None]:
    """{account id: owner user id or None} of these accounts, reading only those the caller did not give."""
    owners = {account_id: known[account_id] for account_id in account_ids if known and account_id in known}
    missing = account_ids - owners.keys()
    if missing:
        owners |= dict(Account.objects.filter(pk__in=missing).values_list("pk", "user_id"))
        if len(owners) != len(account_ids):
            raise AccountNotFound(account_ids=sorted(account_ids - owners.keys()))
    return owners


def _save_balances(balances) -> None:
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


@atomic_with_retry
def entries_post_batch(*, entries: Sequence[EntrySpec]) -> list[PostResult]:
    """Post many independent entries in one transaction with bulk inserts (bulk work: migrations).

    The same rules as `entry_post`, entry by entry: balanced legs, no user balance below
    zero, and keys already posted are replays (or an IdempotencyConflict). Locks every
    balance row involved, in the global order, before writing anything.
    """
    specs = []
    for spec in entries:
        _validate(spec.business_type, spec.business_id, spec.legs, ())
        _check_balanced(spec.legs)
        specs.append((spec, _fingerprint(spec.legs, (), spec.meta)))
    existing = _entries_by_key({(spec.business_type, spec.business_id) for spec, _ in specs})
    results, pending = {}, {}
    for spec, fingerprint in specs:
        key = (spec.business_type, spec.business_id)
        if key in existing:
            results[key] = PostResult(_replayed(existing[key], fingerprint), created=False)
        elif key not in pending:
            pending[key] = (spec, fingerprint)
        elif pending[key][1] != fingerprint:
            raise IdempotencyConflict(business_type=spec.business_type, business_id=spec.business_id)
    new = list(pending.values())
    if new:
        keys = {(leg.account_id, leg.asset_code) for spec, _ in new for leg in spec.legs}
        owners = _owners({account_id for account_id, _ in keys}, None)
        backpack_versions_bump(user_ids=owners.values())
        balances = _lock_balances(keys, owners)
        bulk_insert(
            JournalEntry,
            [
                JournalEntry(business_type=s.business_type, business_id=s.business_id, fingerprint=f, meta=s.meta)
                for s, f in new
            ],
        )
        created = _entries_by_key({(s.business_type, s.business_id) for s, _ in new})
        rows = []
        for spec, _ in new:
            entry = created[(spec.business_type, spec.business_id)]
            rows.extend(_apply_legs(entry, spec.legs, balances))
            results[(spec.business_type, spec.business_id)] = PostResult(entry, created=True)
        _save_balances(balances.values())
        bulk_insert(JournalLeg, rows)
    return [results[(spec.business_type, spec.business_id)] for spec in entries]


def _entries_by_key(keys: set[tuple[str, str]]) -> dict[tuple[str, str], JournalEntry]:
    by_type = defaultdict(list)
    for business_type, business_id in keys:
        by_type[business_type].append(business_id)
    found = {}
    for business_type, business_ids in by_type.items():
        for entry in JournalEntry.objects.filter(business_type=business_type, business_id__in=business_ids):
            found[(entry.business_type, entry.business_id)] = entry
    return found


def _lock_balances(keys: set[tuple[int, str]], owners: Mapping[int, int | None]) -> dict[tuple[int, str], Balance]:
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


def _validate(business_type, business_id, legs, hold_changes) -> None:
    if not business_type or not business_id:
        raise InvalidEntry("business_type and business_id are required.")
    if not legs and not hold_changes:
        raise InvalidEntry("An entry needs at least one leg.")
    for leg in legs:
        for amount in (leg.delta_available, leg.delta_frozen):
            if type(amount) is not int:
                raise InvalidEntry("Amounts are integers.", value=repr(amount))
        if leg.delta_available == 0 and leg.delta_frozen == 0:
            raise InvalidEntry("A leg must move something.")
    for change in hold_changes:
        if change.amount is not None and (type(change.amount) is not int or change.amount <= 0):
            raise InvalidEntry("A hold change takes a positive integer amount.", value=repr(change.amount))
        if change.released and (
            change.release
            or change.amount is None
            or type(change.released) is not int
            or not 0 < change.released <= change.amount
        ):
            raise InvalidEntry("A settle gives back a positive part of its amount.", value=repr(change.released))
    hold_ids = [change.hold_id for change in hold_changes]
    if len(set(hold_ids)) != len(hold_ids):
        raise InvalidEntry("Change each hold at most once per entry.")


def _apply_legs(entry: JournalEntry, legs: Sequence[Leg], balances: dict) -> list[JournalLeg]:
    """Apply the legs to the locked balances in memory; return the journal rows with after-balances."""
    rows = []
    for leg in legs:
        balance = balances[(leg.account_id, leg.asset_code)]
        balance.available_amount += leg.delta_available
        balance.frozen_amount += leg.delta_frozen
        if not balance.allows_negative and (balance.available_amount < 0 or balance.frozen_amount < 0):
            raise InsufficientBalance(
                asset_code=leg.asset_code,
                available=balance.available_amount - leg.delta_available,
                required=-leg.delta_available,
            )
        rows.append(
            JournalLeg(
                entry=entry,
                account_id=leg.account_id,
                asset_id=leg.asset_code,
                delta_available=leg.delta_available,
                delta_frozen=leg.delta_frozen,
                available_after=balance.available_amount,
                frozen_after=balance.frozen_amount,
                meta=leg.meta,
            )
        )
    return rows


def _fingerprint(legs, hold_changes, meta) -> str:
    canonical = {
        "legs": sorted(
            [leg.account_id, leg.asset_code, leg.delta_available, leg.delta_frozen, leg.meta] for leg in legs
        ),
        "holds": sorted([c.hold_id, c.amount, c.release] + ([c.released] if c.released else []) for c in hold_changes),
        "meta": meta,
    }
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _replayed(entry: JournalEntry, fingerprint: str) -> JournalEntry:
    if entry.fingerprint != fingerprint:
        raise IdempotencyConflict(business_type=entry.business_type, business_id=entry.business_id)
    return entry


def _check_balanced(legs: Sequence[Leg]) -> None:
    by_asset = defaultdict(int)
    seen = set()
    for leg in legs:
        key = (leg.account_id, leg.asset_code)
        if key in seen:
            raise InvalidEntry("One leg per account and asset.", account_id=leg.account_id, asset_code=leg.asset_code)
        seen.add(key)
        by_asset[leg.asset_code] += leg.delta_available + leg.delta_frozen
    unbalanced = {code: total for code, total in by_asset.items() if total != 0}
    if unbalanced:
        raise InvalidEntry("The legs do not sum to zero per asset.", unbalanced=unbalanced)


def _lock_holds(hold_ids: list[int]) -> dict[int, Hold]:
    if not hold_ids:
        return {}
    holds = holds_lock(hold_ids=hold_ids)
    missing = set(hold_ids) - holds.keys()
    if missing:
        raise InvalidEntry("No such hold.", hold_ids=sorted(missing))
    return holds


def _apply_hold_change(hold: Hold, change: HoldChange) -> Leg:
    """Take the change out of the locked hold and return the holder's leg for it."""
    if hold.status != HoldStatus.OPEN:
        raise HoldNotOpen(hold_id=hold.pk, status=hold.status)
    amount = hold.remaining if change.amount is None else change.amount
    if amount > hold.remaining:
        raise HoldAmountExceeded(hold_id=hold.pk, remaining=hold.remaining, amount=amount)
    hold.remaining -= amount
    if hold.remaining == 0:
        hold.status = HoldStatus.RELEASED if change.release else HoldStatus.SETTLED
    return Leg(
        account_id=hold.account_id,
        asset_code=hold.asset_id,
        delta_available=amount if change.release else change.released,
        delta_frozen=-amount,
        meta={"hold_id": hold.pk},
    )


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
    if type(delta) is not int or delta == 0:
        raise InvalidEntry("delta is a non-zero integer.", delta=repr(delta))
    system_code = system_slot_code(_counterparty(business_type, delta), user_id=user_id)
    accounts = accounts_get(user_ids={user_id}, system_codes={system_code})
    return entry_post(
        business_type=business_type,
        business_id=business_id,
        legs=[
            Leg(account_id=accounts.of_user[user_id], asset_code=asset_code, delta_available=delta),
            Leg(account_id=accounts.of_system[system_code], asset_code=asset_code, delta_available=-delta),
        ],
        meta=meta,
        actor_id=actor_id,
        owners=accounts.owners,
    )


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
def _asset_grant(*, actor_id: int, user_id: int, asset_code: str, amount: int, **entry) -> PostResult:
    if AssetType.objects.filter(pk=asset_code).values_list("pk", flat=True).first() != asset_code:  # exactly
        raise UnknownAsset(asset_codes=[asset_code])
    day = _issuance_day_locked(issuer_id=actor_id, asset_code=asset_code, day=timezone.localdate())
    result = balance_change(user_id=user_id, asset_code=asset_code, delta=amount, actor_id=actor_id, **entry)
    if not result.created:
        if result.entry.actor_id != actor_id:
            raise IdempotencyConflict(business_type=entry["business_type"], business_id=entry["business_id"])
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
            **entry,
        },
    )
    return result


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


def _require_reason(reason: str) -> None:
    if not (reason or "").strip():
        raise InvalidInput("A reason is required for every correction.")


@atomic_with_retry
def balance_recalculate(*, actor, account_id: int, asset_code: str, reason: str) -> BalanceAudit:
    """Set a drifted balance row to the sum of its journal legs, under the row lock, and audit it.

    The journal is the truth; the row is a cache of it. No legs can be posted for this
    balance meanwhile, because posting takes the same row lock.
    """
    require_permission(actor, "ledger.recalculate_balance")
    _require_reason(reason)
    owners = _owners({account_id}, None)
    backpack_versions_bump(user_ids=owners.values())
    balance = _lock_balances({(account_id, asset_code)}, owners)[(account_id, asset_code)]
    journal = journal_sums(account_id=account_id, asset_code=asset_code)
    before = (balance.available_amount, balance.frozen_amount)
    Balance.objects.filter(pk=balance.pk).update(
        available_amount=journal["available"], frozen_amount=journal["frozen"], updated_at=timezone.now()
    )
    return BalanceAudit.objects.create(
        action=AuditAction.RECALCULATE,
        operator=actor.get_username(),
        actor=actor,
        reason=reason,
        account_id=account_id,
        asset_id=asset_code,
        available_before=before[0],
        frozen_before=before[1],
        available_after=journal["available"],
        frozen_after=journal["frozen"],
    )


@atomic_with_retry
def balance_adjust(*, actor, user_id: int, asset_code: str, delta: int, reason: str, key: str) -> BalanceAudit:
    """A business correction: a balanced entry between the user and SYSTEM_ADJUSTMENT, audited.

    Once per `key`: a rerun with the same key returns the first correction's audit and changes nothing.
    """
    require_permission(actor, "ledger.adjust_balance")
    _require_reason(reason)
    if not (key or "").strip():
        raise InvalidInput("A key is required, so that a rerun cannot correct twice.")
    result = balance_change(
        user_id=user_id,
        asset_code=asset_code,
        delta=delta,
        business_type="adjustment",
        business_id=key,
        meta={"reason": reason, "operator": actor.get_username()},
        actor_id=actor.pk,
    )
    if not result.created:
        return BalanceAudit.objects.get(entry=result.entry)
    leg = result.entry.legs.get(account__user_id=user_id)
    return BalanceAudit.objects.create(
        action=AuditAction.ADJUST,
        operator=actor.get_username(),
        actor=actor,
        reason=reason,
        account_id=leg.account_id,
        asset_id=asset_code,
        available_before=leg.available_after - leg.delta_available,
        frozen_before=leg.frozen_after,
        available_after=leg.available_after,
        frozen_after=leg.frozen_after,
        entry=result.entry,
    )
