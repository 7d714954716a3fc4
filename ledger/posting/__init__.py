"""The posting engine: one balanced journal entry (or a batch of them) from legs and hold changes.

`rules` holds what an entry must be (pure Python), `store` the SQL; every posting of the ledger goes
through `entry_post` or `entries_post_batch`.
"""

from collections.abc import Mapping, Sequence

from core.db import atomic_with_retry
from core.locks import backpack_versions_bump
from ledger.exceptions import IdempotencyConflict
from ledger.models import JournalEntry
from ledger.posting import rules, store
from ledger.posting.rules import EntrySpec, HoldChange, Leg, PostResult

__all__ = ["EntrySpec", "HoldChange", "Leg", "PostResult", "entries_post_batch", "entry_post"]


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
) -> PostResult:
    """Post one balanced journal entry, once per (business_type, business_id).

    A replay with the same content returns the original entry and changes nothing; the
    same key with different content raises IdempotencyConflict. Hold changes add the
    holder's frozen legs themselves; the caller gives the counter legs. `actor_id` records
    who asked (it is not part of the content: callers that care compare it on replays).
    `owners` ({account id: user id, None for a system account}) spares reading accounts the
    caller has just read (`accounts_get`). Every posting bumps the backpack versions of all its
    owners, even those a caller bumped already in the transaction (an item sale's item transfer):
    one statement more, and no caller needs to know what another app bumped.

    The statements: lock the holds; read the accounts (unless given); bump the owners' backpack
    versions; lock every balance row in one statement; insert the entry (its unique key is the
    replay check: nothing is checked against the balances or holds before it, so a replay is
    answered whatever happened since); write the balances in one statement, then the holds, then
    the legs in one. A refusal after the insert rolls the whole transaction back.
    """
    meta = meta or {}
    rules.validate(business_type, business_id, legs, hold_changes)
    fingerprint = rules.fingerprint(legs, hold_changes, meta)
    holds = store.holds_locked([change.hold_id for change in hold_changes])
    keys = {(leg.account_id, leg.asset_code) for leg in legs} | {(h.account_id, h.asset_id) for h in holds.values()}
    owners = store.owners_read({account_id for account_id, _ in keys}, owners)
    backpack_versions_bump(user_ids=owners.values())
    balances = store.balances_locked(keys, owners)

    entry = JournalEntry(
        business_type=business_type, business_id=business_id, fingerprint=fingerprint, meta=meta, actor_id=actor_id
    )
    if not store.entry_insert(entry):
        # Posted before (balances locked, so a concurrent twin has committed by now): a replay, or the key
        # reused with other content. Nothing was written yet.
        existing = JournalEntry.objects.get(business_type=business_type, business_id=business_id)
        return PostResult(rules.replayed(existing, fingerprint), created=False)
    all_legs = list(legs) + [rules.apply_hold_change(holds[change.hold_id], change) for change in hold_changes]
    rules.check_balanced(all_legs)
    rows = rules.apply_legs(entry, all_legs, balances)
    store.balances_save(balances.values())
    store.holds_save([holds[change.hold_id] for change in hold_changes])
    store.legs_insert(rows)
    return PostResult(entry, created=True)


@atomic_with_retry
def entries_post_batch(*, entries: Sequence[EntrySpec]) -> list[PostResult]:
    """Post many independent entries in one transaction with bulk inserts (bulk work: migrations).

    The same rules as `entry_post`, entry by entry: balanced legs, no user balance below
    zero, and keys already posted are replays (or an IdempotencyConflict). Locks every
    balance row involved, in the global order, before writing anything.
    """
    specs = []
    for spec in entries:
        rules.validate(spec.business_type, spec.business_id, spec.legs, ())
        rules.check_balanced(spec.legs)
        specs.append((spec, rules.fingerprint(spec.legs, (), spec.meta)))
    existing = store.entries_by_key({(spec.business_type, spec.business_id) for spec, _ in specs})
    results, pending = {}, {}
    for spec, fingerprint in specs:
        key = (spec.business_type, spec.business_id)
        if key in existing:
            results[key] = PostResult(rules.replayed(existing[key], fingerprint), created=False)
        elif key not in pending:
            pending[key] = (spec, fingerprint)
        elif pending[key][1] != fingerprint:
            raise IdempotencyConflict(business_type=spec.business_type, business_id=spec.business_id)
    new = list(pending.values())
    if new:
        keys = {(leg.account_id, leg.asset_code) for spec, _ in new for leg in spec.legs}
        owners = store.owners_read({account_id for account_id, _ in keys}, None)
        backpack_versions_bump(user_ids=owners.values())
        balances = store.balances_locked(keys, owners)
        store.entries_insert(
            [
                JournalEntry(business_type=s.business_type, business_id=s.business_id, fingerprint=f, meta=s.meta)
                for s, f in new
            ]
        )
        created = store.entries_by_key({(s.business_type, s.business_id) for s, _ in new})
        rows = []
        for spec, _ in new:
            entry = created[(spec.business_type, spec.business_id)]
            rows.extend(rules.apply_legs(entry, spec.legs, balances))
            results[(spec.business_type, spec.business_id)] = PostResult(entry, created=True)
        store.balances_save(balances.values())
        store.legs_insert(rows)
    return [results[(spec.business_type, spec.business_id)] for spec in entries]
