import pytest
from django.db import IntegrityError, connection, transaction

from ledger.exceptions import (
    HoldAmountExceeded,
    HoldNotOpen,
    IdempotencyConflict,
    InsufficientBalance,
    InvalidEntry,
    UnknownAsset,
)
from ledger.models import Balance, HoldStatus, JournalEntry, JournalLeg, SystemAccount
from ledger.reconciliation import ledger_discrepancies
from ledger.selectors import system_balance
from ledger.services import (
    EntrySpec,
    Leg,
    account_get_or_create,
    accounts_get,
    balance_adjust,
    balance_change,
    entries_post_batch,
    entry_post,
    hold_create,
    hold_release,
    hold_settle,
    system_account_id,
    system_slot_code,
    transfer,
)
from tests.factories import OperatorFactory

pytestmark = pytest.mark.django_db


def test_grant_is_issued_from_the_issuance_account(user, available):
    result = balance_change(user_id=user.pk, asset_code="DIAMOND", delta=100, business_type="lottery", business_id="1")

    assert result.created
    legs = {leg.account_id: leg.delta_available for leg in result.entry.legs.all()}
    issuance = system_account_id(system_slot_code(SystemAccount.ISSUANCE, user_id=user.pk))
    assert legs == {account_get_or_create(user_id=user.pk).pk: 100, issuance: -100}
    assert available(user) == 100
    assert ledger_discrepancies() == []


def test_spend_goes_to_burn(user, available, grant):
    grant(user, "DIAMOND", 100)

    balance_change(user_id=user.pk, asset_code="DIAMOND", delta=-30, business_type="spend", business_id="s1")

    assert available(user) == 70
    assert system_balance(code=SystemAccount.BURN, asset_code="DIAMOND") == 30


def test_replay_returns_the_original_entry_and_changes_nothing(user, available):
    first = balance_change(user_id=user.pk, asset_code="DIAMOND", delta=100, business_type="lottery", business_id="7")

    again = balance_change(user_id=user.pk, asset_code="DIAMOND", delta=100, business_type="lottery", business_id="7")

    assert not again.created
    assert again.entry.pk == first.entry.pk
    assert available(user) == 100
    assert JournalLeg.objects.count() == 2


@pytest.mark.parametrize("changed", [{"delta": 101}, {"asset_code": "red_shard"}, {"meta": {"campaign": "other"}}])
def test_changed_replay_is_a_conflict(user, changed, available):
    request = {
        "user_id": user.pk,
        "asset_code": "DIAMOND",
        "delta": 100,
        "business_type": "lottery",
        "business_id": "8",
    }
    balance_change(**request, meta={"campaign": "spring"})

    with pytest.raises(IdempotencyConflict), transaction.atomic():  # a savepoint: the test goes on after it
        balance_change(**{**request, "meta": {"campaign": "spring"}, **changed})

    assert available(user) == 100


def test_debit_beyond_the_balance_is_refused_and_changes_nothing(user, available, grant):
    grant(user, "DIAMOND", 10)

    with pytest.raises(InsufficientBalance) as error, transaction.atomic():
        balance_change(user_id=user.pk, asset_code="DIAMOND", delta=-11, business_type="spend", business_id="x")

    assert error.value.details == {"asset_code": "DIAMOND", "available": 10, "required": 11}
    assert available(user) == 10
    assert not JournalEntry.objects.filter(business_type="spend").exists()


def test_unbalanced_entry_is_refused(user):
    account = account_get_or_create(user_id=user.pk)

    with pytest.raises(InvalidEntry):
        entry_post(
            business_type="t",
            business_id="1",
            legs=[Leg(account_id=account.pk, asset_code="DIAMOND", delta_available=5)],
        )


@pytest.mark.parametrize("amount", [0, -5, 1.5, "3", True])
def test_transfer_amount_must_be_a_positive_integer(user, other_user, amount):
    with pytest.raises(InvalidEntry):
        transfer(
            from_user_id=user.pk,
            to_user_id=other_user.pk,
            asset_code="DIAMOND",
            amount=amount,
            business_type="gift",
            business_id="1",
        )


def test_unknown_asset_is_refused(user):
    with pytest.raises(UnknownAsset):
        balance_change(user_id=user.pk, asset_code="GOLD", delta=1, business_type="lottery", business_id="1")


def test_transfer_moves_available_balance(user, other_user, available, grant):
    grant(user, "red_shard", 10)

    transfer(
        from_user_id=user.pk,
        to_user_id=other_user.pk,
        asset_code="red_shard",
        amount=4,
        business_type="gift",
        business_id="g1",
    )

    assert (available(user, "red_shard"), available(other_user, "red_shard")) == (6, 4)
    assert ledger_discrepancies() == []


def test_hold_freezes_then_partial_settle_then_release(user, other_user, available, frozen, grant):
    grant(user, "red_shard", 10)
    hold = hold_create(user_id=user.pk, asset_code="red_shard", amount=8, business_type="listing", business_id="1")
    assert (available(user, "red_shard"), frozen(user, "red_shard")) == (2, 8)

    buyer_account = account_get_or_create(user_id=other_user.pk)
    hold_settle(hold_id=hold.pk, amount=3, to_account_id=buyer_account.pk, business_type="sale", business_id="1")
    hold.refresh_from_db()
    assert (hold.remaining, hold.status) == (5, HoldStatus.OPEN)
    assert available(other_user, "red_shard") == 3

    hold_release(hold_id=hold.pk, business_type="unlist", business_id="1")
    hold.refresh_from_db()
    assert (hold.remaining, hold.status) == (0, HoldStatus.RELEASED)
    assert (available(user, "red_shard"), frozen(user, "red_shard")) == (7, 0)
    assert ledger_discrepancies() == []


def test_hold_cannot_freeze_more_than_available(user, available, frozen, grant):
    grant(user, "red_shard", 3)

    with pytest.raises(InsufficientBalance):
        hold_create(user_id=user.pk, asset_code="red_shard", amount=4, business_type="listing", business_id="1")

    assert (available(user, "red_shard"), frozen(user, "red_shard")) == (3, 0)


def test_hold_create_replay_returns_the_same_hold(user, frozen, grant):
    grant(user, "red_shard", 10)
    first = hold_create(user_id=user.pk, asset_code="red_shard", amount=4, business_type="listing", business_id="1")

    again = hold_create(user_id=user.pk, asset_code="red_shard", amount=4, business_type="listing", business_id="1")

    assert again.pk == first.pk
    assert frozen(user, "red_shard") == 4


def test_cannot_settle_more_than_remains(user, other_user, frozen, grant):
    grant(user, "red_shard", 10)
    hold = hold_create(user_id=user.pk, asset_code="red_shard", amount=5, business_type="listing", business_id="1")
    buyer = account_get_or_create(user_id=other_user.pk)

    with pytest.raises(HoldAmountExceeded):
        hold_settle(hold_id=hold.pk, amount=6, to_account_id=buyer.pk, business_type="sale", business_id="1")

    hold.refresh_from_db()
    assert hold.remaining == 5
    assert frozen(user, "red_shard") == 5


def test_cannot_release_more_than_remains(user, grant):
    grant(user, "red_shard", 10)
    hold = hold_create(user_id=user.pk, asset_code="red_shard", amount=5, business_type="listing", business_id="1")

    with pytest.raises(HoldAmountExceeded):
        hold_release(hold_id=hold.pk, amount=6, business_type="unlist", business_id="1")


def test_settled_hold_cannot_be_released(user, other_user, available, frozen, grant):
    grant(user, "red_shard", 10)
    hold = hold_create(user_id=user.pk, asset_code="red_shard", amount=5, business_type="listing", business_id="1")
    buyer = account_get_or_create(user_id=other_user.pk)
    hold_settle(hold_id=hold.pk, amount=5, to_account_id=buyer.pk, business_type="sale", business_id="1")

    with pytest.raises(HoldNotOpen):
        hold_release(hold_id=hold.pk, business_type="unlist", business_id="1")

    assert (available(user, "red_shard"), frozen(user, "red_shard")) == (5, 0)


def test_release_replay_returns_the_original_entry(user, available, grant):
    grant(user, "red_shard", 10)
    hold = hold_create(user_id=user.pk, asset_code="red_shard", amount=5, business_type="listing", business_id="1")
    first = hold_release(hold_id=hold.pk, business_type="unlist", business_id="1")

    again = hold_release(hold_id=hold.pk, business_type="unlist", business_id="1")

    assert (again.entry.pk, again.created) == (first.entry.pk, False)
    assert available(user, "red_shard") == 10


def test_database_refuses_a_negative_user_balance(user, grant):
    grant(user, "DIAMOND", 5)
    balance = Balance.objects.get(account__user=user, asset_id="DIAMOND")

    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE account_asset_balances SET available_amount = -1 WHERE id = %s", [balance.pk])


def test_database_allows_system_accounts_to_go_negative(user, grant):
    grant(user, "DIAMOND", 5)

    assert system_balance(code=SystemAccount.ISSUANCE, asset_code="DIAMOND") == -5


def test_database_refuses_a_duplicate_business_key():
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        for _ in range(2):
            cursor.execute(
                "INSERT INTO asset_journal_entries (business_type, business_id, fingerprint, meta, created_at)"
                " VALUES ('t', '1', 'x', '{}', CURRENT_TIMESTAMP)"
            )


def test_database_refuses_an_account_that_is_both_user_and_system(user):
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO accounts (kind, user_id, system_code, created_at) VALUES ('user', %s, 'X', CURRENT_TIMESTAMP)",
            [user.pk],
        )


def test_journal_is_append_only(user, grant):
    result = grant(user, "DIAMOND", 5)

    with pytest.raises(PermissionError):
        result.entry.delete()
    with pytest.raises(PermissionError):
        JournalLeg.objects.filter(entry=result.entry).update(delta_available=0)
    with pytest.raises(PermissionError):
        result.entry.save()


def credit_specs(users, asset_code="red_shard", prefix="m"):
    issuance = system_account_id(SystemAccount.MIGRATION)
    accounts = accounts_get(user_ids={u.pk for u in users}).of_user
    return [
        EntrySpec(
            business_type="migration",
            business_id=f"{prefix}{n}",
            legs=[
                Leg(account_id=accounts[u.pk], asset_code=asset_code, delta_available=1),
                Leg(account_id=issuance, asset_code=asset_code, delta_available=-1),
            ],
        )
        for n, u in enumerate(users)
    ]


def test_batch_posts_every_entry_with_running_after_balances(user, other_user, available):
    results = entries_post_batch(entries=credit_specs([user, user, other_user]))

    assert [r.created for r in results] == [True, True, True]
    assert available(user, "red_shard") == 2
    user_legs = JournalLeg.objects.filter(account__user=user).order_by("id")
    assert [leg.available_after for leg in user_legs] == [1, 2]
    assert ledger_discrepancies() == []


def test_batch_replay_creates_nothing_new(user, available):
    first = entries_post_batch(entries=credit_specs([user, user]))

    again = entries_post_batch(entries=credit_specs([user, user]))

    assert [r.entry.pk for r in again] == [r.entry.pk for r in first]
    assert [r.created for r in again] == [False, False]
    assert available(user, "red_shard") == 2


def test_batch_with_a_changed_replay_is_a_conflict_and_writes_nothing(user, other_user, available):
    entries_post_batch(entries=credit_specs([user]))

    with pytest.raises(IdempotencyConflict):
        entries_post_batch(entries=credit_specs([other_user, other_user], prefix="m"))

    assert available(other_user, "red_shard") == 0


def test_batch_refuses_to_take_a_user_below_zero(user):
    debit = [
        EntrySpec(
            business_type="t",
            business_id="1",
            legs=[
                Leg(
                    account_id=accounts_get(user_ids={user.pk}).of_user[user.pk],
                    asset_code="DIAMOND",
                    delta_available=-1,
                ),
                Leg(account_id=system_account_id(SystemAccount.BURN), asset_code="DIAMOND", delta_available=1),
            ],
        )
    ]

    with pytest.raises(InsufficientBalance):
        entries_post_batch(entries=debit)


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE asset_holds SET remaining = amount + 1 WHERE id = %s",
        "UPDATE asset_holds SET remaining = 0 WHERE id = %s",  # open with nothing left
        "UPDATE asset_holds SET status = 'released' WHERE id = %s",  # closed with something left
    ],
    ids=["more than the hold", "open but empty", "closed but not empty"],
)
def test_database_refuses_an_inconsistent_hold(user, sql, grant):
    grant(user, "red_shard", 10)
    hold = hold_create(user_id=user.pk, asset_code="red_shard", amount=5, business_type="listing", business_id="1")

    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, [hold.pk])


def test_database_refuses_a_leg_that_moves_nothing(user, grant):
    leg = grant(user, "DIAMOND", 5).entry.legs.first()

    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE asset_transactions SET delta_available = 0 WHERE id = %s", [leg.pk])


def test_database_refuses_an_audit_without_a_reason(user, grant):
    grant(user, "DIAMOND", 5)
    audit = balance_adjust(
        actor=OperatorFactory(), user_id=user.pk, asset_code="DIAMOND", delta=1, reason="ticket 7", key="ticket-7"
    )

    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE ledger_balance_audits SET reason = '' WHERE id = %s", [audit.pk])
