import pytest
from django.core.management import call_command
from django.db import connection

from backpack_site.alerts import alert_fire
from backpack_site.models import Alert, ReconciliationRun, RunStatus
from ledger.models import JournalLeg
from ledger.services import hold_create
from tests.conftest import grant

pytestmark = pytest.mark.django_db


def execute(sql: str, params=()) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


@pytest.fixture
def books(user, other_user):
    grant(user, "DIAMOND", 100)
    grant(other_user, "red_shard", 10)
    hold_create(user_id=other_user.pk, asset_code="red_shard", amount=4, business_type="listing", business_id="1")
    return user


def test_clean_books_pass_and_alert_nobody(books, webhook):
    call_command("reconcile_ledger")

    run = ReconciliationRun.objects.get()
    assert (run.status, run.discrepancy_count) == (RunStatus.PASSED, 0)
    assert set(run.checks.values()) == {0}
    assert webhook == [] and not Alert.objects.exists()


PLANTS = {
    "balance off by one": (
        "UPDATE account_asset_balances SET available_amount = available_amount + 1 WHERE asset_code = 'DIAMOND'"
        " AND account_id = (SELECT id FROM accounts WHERE user_id = {user})",
        "balances_match_journal",
    ),
    "frozen amount without a hold": ("UPDATE asset_holds SET status = 'released', remaining = 0", "holds_match_frozen"),
    "journal leg deleted": ("DELETE FROM asset_transactions WHERE id = {leg}", "entries_balance"),
}


@pytest.mark.parametrize("plant", PLANTS, ids=list(PLANTS))
def test_each_planted_discrepancy_is_found_stored_exits_1_and_posted(books, webhook, plant):
    sql, check = PLANTS[plant]
    leg = JournalLeg.objects.filter(asset_id="DIAMOND", account__user=books).get().pk
    execute(sql.format(user=books.pk, leg=leg))

    with pytest.raises(SystemExit) as exit_status:
        call_command("reconcile_ledger")

    assert exit_status.value.code == 1
    run = ReconciliationRun.objects.get()
    assert run.status == RunStatus.FAILED
    assert run.checks[check] >= 1 and run.discrepancy_count == sum(run.checks.values())
    assert len(webhook) == 1
    assert webhook[0]["source"] == "reconciliation" and webhook[0]["details"]["run_id"] == run.pk
    assert Alert.objects.get().webhook_status == "HTTP 204"


def test_stored_discrepancies_are_capped_but_counted(books, settings):
    settings.RECONCILIATION_MAX_STORED = 2
    execute(
        "UPDATE account_asset_balances SET available_amount = available_amount + 1 WHERE allows_negative = %s", [False]
    )

    with pytest.raises(SystemExit):
        call_command("reconcile_ledger")

    run = ReconciliationRun.objects.get()
    assert len(run.discrepancies) == 2
    assert run.discrepancy_count > 2


def test_a_dead_webhook_never_breaks_the_alert(settings, caplog):
    settings.ALERT_WEBHOOK_URL = "http://127.0.0.1:9/nobody-listens"
    settings.ALERT_WEBHOOK_TIMEOUT = 1

    alert = alert_fire(source="test", message="boom", details={"n": 1})

    assert alert.webhook_status.startswith("failed")
    assert "ALERT test: boom" in caplog.text
