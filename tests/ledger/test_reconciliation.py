"""Each ledger check finds the discrepancy planted behind the services' back, and only that."""

import pytest

from ledger.models import Balance, JournalLeg
from ledger.reconciliation import ledger_discrepancies
from ledger.services import hold_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def books(user, other_user, grant):
    grant(user, "DIAMOND", 100)
    grant(other_user, "red_shard", 10)
    hold_create(user_id=other_user.pk, asset_code="red_shard", amount=4, business_type="listing", business_id="1")
    return Balance.objects.get(account__user=user, asset_id="DIAMOND")


def checks_found() -> set[str]:
    return {problem["check"] for problem in ledger_discrepancies()}


def test_clean_books_pass(books):
    assert ledger_discrepancies() == []


def test_a_balance_off_by_one(books, execute_sql):
    execute_sql("UPDATE account_asset_balances SET available_amount = available_amount + 1 WHERE id = %s", [books.pk])

    assert checks_found() == {"balance_matches_journal", "asset_sums_to_zero"}


def test_frozen_without_a_hold(books, execute_sql):
    execute_sql("UPDATE asset_holds SET status = 'released', remaining = 0")

    assert checks_found() == {"open_holds_match_frozen"}


def test_a_deleted_journal_leg(books, execute_sql):
    leg = JournalLeg.objects.filter(account__user__isnull=False, asset_id="DIAMOND").first()
    execute_sql("DELETE FROM asset_transactions WHERE id = %s", [leg.pk])

    assert checks_found() == {"balance_matches_journal", "entry_balances"}


def test_a_user_row_allowed_to_go_negative(books, execute_sql):
    execute_sql("UPDATE account_asset_balances SET allows_negative = %s WHERE id = %s", [True, books.pk])

    assert checks_found() == {"user_balance_not_negative"}
