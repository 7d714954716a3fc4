"""The posting rules of the ledger, in pure Python: an entry's types, its validation, balancing and fingerprint."""

import hashlib
import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from ledger.exceptions import HoldAmountExceeded, HoldNotOpen, IdempotencyConflict, InsufficientBalance, InvalidEntry
from ledger.models import Hold, HoldStatus, JournalEntry, JournalLeg


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


def validate(business_type, business_id, legs, hold_changes) -> None:
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


def check_balanced(legs: Sequence[Leg]) -> None:
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


def apply_legs(entry: JournalEntry, legs: Sequence[Leg], balances: dict) -> list[JournalLeg]:
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


def apply_hold_change(hold: Hold, change: HoldChange) -> Leg:
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


def fingerprint(legs, hold_changes, meta) -> str:
    canonical = {
        "legs": sorted(
            [leg.account_id, leg.asset_code, leg.delta_available, leg.delta_frozen, leg.meta] for leg in legs
        ),
        "holds": sorted([c.hold_id, c.amount, c.release] + ([c.released] if c.released else []) for c in hold_changes),
        "meta": meta,
    }
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def replayed(entry: JournalEntry, fingerprint: str) -> JournalEntry:
    if entry.fingerprint != fingerprint:
        raise IdempotencyConflict(business_type=entry.business_type, business_id=entry.business_id)
    return entry
