"""Races on MariaDB: real threads, each with its own connection, on committed data."""

import random

import pytest

from ledger import selectors
from ledger.exceptions import HoldAmountExceeded, HoldNotOpen, InsufficientBalance
from ledger.models import Hold, HoldStatus, JournalEntry
from ledger.reconciliation import ledger_discrepancies
from ledger.services import account_get_or_create, balance_change, hold_create, hold_release, hold_settle, transfer
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

THREADS = 16
OPERATIONS_PER_THREAD = 25
ASSETS = ("DIAMOND", "red_shard")


def test_concurrent_duplicates_end_as_one_entry_and_replays(run_in_threads):
    user = UserFactory()

    results = run_in_threads(
        lambda _: balance_change(
            user_id=user.pk, asset_code="DIAMOND", delta=50, business_type="lottery", business_id="dup-1"
        ),
        THREADS,
    )

    assert not [r for r in results if isinstance(r, Exception)]
    assert len({r.entry.pk for r in results}) == 1
    assert sum(r.created for r in results) == 1
    assert JournalEntry.objects.filter(business_type="lottery").count() == 1
    assert selectors.balance_get(user_id=user.pk, asset_code="DIAMOND")["available_amount"] == 50


def test_opposite_direction_transfers_never_surface_a_deadlock(grant, run_in_threads):
    alice, bob = UserFactory(), UserFactory()
    grant(alice, "DIAMOND", 10_000)
    grant(bob, "DIAMOND", 10_000)

    def move(index):
        source, target = (alice, bob) if index % 2 else (bob, alice)
        for n in range(10):
            transfer(
                from_user_id=source.pk,
                to_user_id=target.pk,
                asset_code="DIAMOND",
                amount=1 + n,
                business_type="gift",
                business_id=f"{index}-{n}",
            )

    results = run_in_threads(move, THREADS)

    assert [r for r in results if isinstance(r, Exception)] == []
    total = sum(selectors.balance_get(user_id=u.pk, asset_code="DIAMOND")["available_amount"] for u in (alice, bob))
    assert total == 20_000
    assert ledger_discrepancies() == []


def test_random_mixed_workload_keeps_every_invariant(grant, run_in_threads):
    users = [UserFactory() for _ in range(5)]
    for user in users:
        for asset_code in ASSETS:
            grant(user, asset_code, 500)
    accounts = {user.pk: account_get_or_create(user_id=user.pk).pk for user in users}
    expected_refusals = (InsufficientBalance, HoldNotOpen, HoldAmountExceeded)

    def work(index):
        rng = random.Random(index)
        done = refused = 0
        for n in range(OPERATIONS_PER_THREAD):
            key = f"{index}-{n}"
            source, target = rng.sample(users, 2)
            asset_code = rng.choice(ASSETS)
            amount = rng.randint(1, 60)
            open_holds = list(Hold.objects.filter(status=HoldStatus.OPEN).values_list("pk", "account_id")[:20])
            hold_id, holder_account = rng.choice(open_holds) if open_holds else (None, None)
            receiver = rng.choice([a for a in accounts.values() if a != holder_account])
            action = rng.choice(["transfer", "freeze", "settle", "release"] if open_holds else ["transfer", "freeze"])
            try:
                if action == "transfer":
                    transfer(
                        from_user_id=source.pk,
                        to_user_id=target.pk,
                        asset_code=asset_code,
                        amount=amount,
                        business_type="gift",
                        business_id=key,
                    )
                elif action == "freeze":
                    hold_create(
                        user_id=source.pk, asset_code=asset_code, amount=amount, business_type="freeze", business_id=key
                    )
                elif action == "settle":
                    hold_settle(
                        hold_id=hold_id,
                        amount=rng.randint(1, 20),
                        to_account_id=receiver,
                        business_type="settle",
                        business_id=key,
                    )
                else:
                    hold_release(hold_id=hold_id, business_type="release", business_id=key)
                done += 1
            except expected_refusals:
                refused += 1
        return done, refused

    results = run_in_threads(work, THREADS)

    assert [r for r in results if isinstance(r, Exception)] == []
    assert sum(done + refused for done, refused in results) == THREADS * OPERATIONS_PER_THREAD
    assert sum(done for done, _ in results) > THREADS * OPERATIONS_PER_THREAD / 2
    assert ledger_discrepancies() == []
