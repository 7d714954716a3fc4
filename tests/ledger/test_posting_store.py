"""The SQL of the postings (ledger/posting/store.py), statement by statement, on the real database."""

import pytest
from django.db import transaction

from ledger.exceptions import UnknownAsset
from ledger.models import Balance, JournalEntry
from ledger.posting import store
from ledger.services import accounts_get
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_accounts_are_read_by_user_and_by_system_code_exactly():
    user = UserFactory()
    accounts = accounts_get(user_ids={user.pk}, system_codes={"SYSTEM_BURN"})

    found = store.accounts_read({user.pk}, {"SYSTEM_BURN", "system_burn"})

    assert found.of_user == {user.pk: accounts.of_user[user.pk]}
    assert found.of_system == {"SYSTEM_BURN": accounts.of_system["SYSTEM_BURN"]}  # not the other case
    assert found.owners == {accounts.of_user[user.pk]: user.pk, accounts.of_system["SYSTEM_BURN"]: None}


def test_missing_balance_rows_are_created_locked_and_a_system_row_may_go_negative():
    user = UserFactory()
    accounts = accounts_get(user_ids={user.pk}, system_codes={"SYSTEM_BURN"})
    user_account, burn = accounts.of_user[user.pk], accounts.of_system["SYSTEM_BURN"]

    with transaction.atomic():
        balances = store.balances_locked({(user_account, "DIAMOND"), (burn, "DIAMOND")}, accounts.owners)

    assert {key: row.allows_negative for key, row in balances.items()} == {
        (user_account, "DIAMOND"): False,
        (burn, "DIAMOND"): True,
    }


def test_a_balance_of_an_asset_the_catalog_lacks_or_spells_otherwise_is_refused():
    user = UserFactory()
    accounts = accounts_get(user_ids={user.pk})
    account = accounts.of_user[user.pk]

    for code in ("NO_SUCH", "diamond"):
        with pytest.raises(UnknownAsset), transaction.atomic():
            store.balances_locked({(account, code)}, accounts.owners)
    assert not Balance.objects.filter(account_id=account).exists()


def test_balances_are_written_back_in_one_statement(django_assert_num_queries):
    user = UserFactory()
    accounts = accounts_get(user_ids={user.pk}, system_codes={"SYSTEM_BURN"})
    keys = {(accounts.of_user[user.pk], "DIAMOND"), (accounts.of_system["SYSTEM_BURN"], "DIAMOND")}
    with transaction.atomic():
        balances = store.balances_locked(keys, accounts.owners)
        for row in balances.values():
            row.available_amount += 7 if row.allows_negative else 0

        with django_assert_num_queries(1):
            store.balances_save(balances.values())

    assert sorted(
        Balance.objects.filter(account__in=[a for a, _ in keys]).values_list("available_amount", flat=True)
    ) == [
        0,
        7,
    ]


def test_an_entry_whose_key_is_taken_is_not_inserted_and_undoes_nothing_else():
    JournalEntry.objects.create(business_type="t", business_id="1", fingerprint="a")

    with transaction.atomic():
        assert store.entry_insert(JournalEntry(business_type="t", business_id="2", fingerprint="b")) is True
        assert store.entry_insert(JournalEntry(business_type="t", business_id="1", fingerprint="c")) is False

    assert sorted(JournalEntry.objects.values_list("business_id", "fingerprint")) == [("1", "a"), ("2", "b")]
