import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from ledger import selectors
from ledger.models import AuditAction, Balance, BalanceAudit, SystemAccount
from ledger.reconciliation import ledger_discrepancies
from ledger.services import account_get_or_create, system_account_id
from tests.factories import OperatorFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(db):
    return OperatorFactory(username="ops-anna")


@pytest.fixture
def drifted(user, grant):
    """A balance row one more than its journal says, as a bad manual edit would leave it."""
    grant(user, "DIAMOND", 100)
    account = account_get_or_create(user_id=user.pk)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE account_asset_balances SET available_amount = 101 WHERE account_id = %s AND asset_code = 'DIAMOND'",
            [account.pk],
        )
    return account


def test_recalculate_shows_the_difference_and_changes_nothing_without_apply(drifted, operator, capsys):
    call_command("recalculate_balance", drifted.pk, "DIAMOND", reason="ticket 42", operator="ops-anna")

    output = capsys.readouterr().out
    assert "row" in output and "101" in output and "journal" in output and "100" in output
    assert Balance.objects.get(account=drifted, asset_id="DIAMOND").available_amount == 101
    assert not BalanceAudit.objects.exists()


def test_recalculate_apply_fixes_the_row_and_audits_it(drifted, operator):
    call_command("recalculate_balance", drifted.pk, "DIAMOND", reason="ticket 42", apply=True, operator="ops-anna")

    assert Balance.objects.get(account=drifted, asset_id="DIAMOND").available_amount == 100
    audit = BalanceAudit.objects.get()
    assert (audit.action, audit.operator, audit.reason) == (AuditAction.RECALCULATE, "ops-anna", "ticket 42")
    assert audit.actor == operator
    assert (audit.available_before, audit.available_after) == (101, 100)
    assert ledger_discrepancies() == []


def test_adjust_posts_a_balanced_entry_against_adjustment_and_audits_it_once_per_key(user, operator, grant):
    grant(user, "red_shard", 10)

    for _ in range(2):  # a rerun with the same key changes nothing
        call_command(
            "adjust_balance", user.pk, "red_shard", -3, reason="duplicate prize", operator="ops-anna", key="T-17"
        )

    assert selectors.balance_get(user_id=user.pk, asset_code="red_shard")["available_amount"] == 7
    adjustment = Balance.objects.get(account_id=system_account_id(SystemAccount.ADJUSTMENT), asset_id="red_shard")
    assert adjustment.available_amount == 3
    audit = BalanceAudit.objects.get()
    assert (audit.action, audit.available_before, audit.available_after) == (AuditAction.ADJUST, 10, 7)
    assert audit.entry.business_type == "adjustment" and audit.entry.meta["reason"] == "duplicate prize"
    assert audit.entry.actor == audit.actor == operator
    assert ledger_discrepancies() == []


@pytest.mark.parametrize("command", ["recalculate_balance", "adjust_balance"])
def test_corrections_refuse_without_a_reason(user, operator, command, grant):
    grant(user, "DIAMOND", 5)
    args = (
        [account_get_or_create(user_id=user.pk).pk, "DIAMOND"]
        if command == "recalculate_balance"
        else [user.pk, "DIAMOND", 1]
    )

    options = {"apply": True} if command == "recalculate_balance" else {"key": "T-1"}

    with pytest.raises(CommandError):
        call_command(command, *args, reason="  ", operator="ops-anna", **options)

    assert not BalanceAudit.objects.exists()


def test_adjust_cannot_take_a_user_below_zero(user, operator, grant):
    grant(user, "DIAMOND", 2)

    with pytest.raises(CommandError, match="too low"):
        call_command("adjust_balance", user.pk, "DIAMOND", -3, reason="clawback", operator="ops-anna", key="T-2")

    assert not BalanceAudit.objects.exists()


@pytest.mark.parametrize("command", ["recalculate_balance", "adjust_balance"])
def test_corrections_refuse_an_operator_without_the_permission(user, command, grant):
    grant(user, "DIAMOND", 5)
    cashier = UserFactory(is_staff=True)
    args = (
        [account_get_or_create(user_id=user.pk).pk, "DIAMOND"]
        if command == "recalculate_balance"
        else [user.pk, "DIAMOND", 1000]
    )
    options = {"apply": True} if command == "recalculate_balance" else {"key": "T-3"}

    with pytest.raises(CommandError, match="may not"):
        call_command(command, *args, reason="because", operator=cashier.username, **options)

    assert not BalanceAudit.objects.exists()
    assert selectors.balance_get(user_id=user.pk, asset_code="DIAMOND")["available_amount"] == 5
