"""The admin's operations dashboard, end to end through the URL as staff."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from ledger.models import JournalBlock, JournalCheckpoint
from ledger.seal import journal_seal
from market.models import MarketTrade
from market.services import listing_create, listing_purchase
from operations.models import ReconciliationRun, RunStatus
from redemption.models import AttemptKind, AttemptOutcome, RedemptionAttempt
from tests.factories import ReconciliationRunFactory, RedemptionAttemptFactory, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db

DASHBOARD = "/admin/operations/reconciliationrun/dashboard/"


@pytest.fixture
def admin_client(client):
    client.force_login(StaffFactory(is_superuser=True))
    return client


def plant_attempts(outcome: str, count: int, *, age: timedelta) -> None:
    staff = StaffFactory()
    created = RedemptionAttemptFactory.create_batch(count, kind=AttemptKind.FULFIL, outcome=outcome, staff_user=staff)
    RedemptionAttempt.objects.filter(pk__in=[a.pk for a in created]).update(created_at=timezone.now() - age)


def test_dashboard_shows_runs_redemption_rates_and_trade_volume(admin_client, user, other_user, grant):
    call_command("reconcile_ledger")
    grant(user, "red_shard", 10)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE account_asset_balances SET available_amount = available_amount + 1")
    with pytest.raises(SystemExit):
        call_command("reconcile_ledger")
    failed_run = ReconciliationRun.objects.get(status=RunStatus.FAILED)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE account_asset_balances SET available_amount = available_amount - 1")
    grant(other_user, "DIAMOND", 1000)
    listing = listing_create(seller_id=user.pk, asset_code="red_shard", quantity=10, unit_price=50)
    for key, quantity in (("a", 1), ("b", 2), ("old", 3)):
        listing_purchase(listing_id=listing.pk, buyer_id=other_user.pk, idempotency_key=key, quantity=quantity)
    MarketTrade.objects.filter(idempotency_key="old").update(created_at=timezone.now() - timedelta(days=2))
    plant_attempts(AttemptOutcome.OK, 3, age=timedelta(minutes=10))
    plant_attempts(AttemptOutcome.NOT_FOUND, 1, age=timedelta(minutes=10))
    plant_attempts(AttemptOutcome.EXPIRED, 1, age=timedelta(hours=3))
    plant_attempts(AttemptOutcome.THROTTLED, 4, age=timedelta(minutes=10))

    response = admin_client.get(DASHBOARD)

    assert response.status_code == 200
    context = response.context
    assert context["latest_run"]["id"] == failed_run.pk
    assert [run["status"] for run in context["runs"]] == [RunStatus.FAILED, RunStatus.PASSED]
    last_hour, last_day = context["redemption"]
    assert (last_hour["verified"], last_hour["success_percent"], last_hour["throttled"]) == (4, 75.0, 4)
    assert (last_day["verified"], last_day["success_percent"]) == (5, 60.0)
    fees = sum(MarketTrade.objects.exclude(idempotency_key="old").values_list("fee", flat=True))
    assert context["trades"] == [{"price_asset_code": "DIAMOND", "trades": 2, "total": 150, "fees": fees}]
    html = response.content.decode()
    assert f'href="/admin/operations/reconciliationrun/{failed_run.pk}/change/"' in html
    assert "Discrepancies found" in html and "75.0%" in html


def test_dashboard_lists_the_last_30_runs_newest_first(admin_client):
    ReconciliationRunFactory.create_batch(31, status=RunStatus.PASSED)
    newest = ReconciliationRun.objects.order_by("-started_at", "-id").values_list("id", flat=True)[:30]

    response = admin_client.get(DASHBOARD)

    assert [run["id"] for run in response.context["runs"]] == list(newest)


def test_an_empty_dashboard_renders(admin_client):
    response = admin_client.get(DASHBOARD)

    assert response.status_code == 200
    assert "No reconciliation has run yet." in response.content.decode()


def test_the_run_list_links_to_the_dashboard(admin_client):
    response = admin_client.get("/admin/operations/reconciliationrun/")

    assert response.status_code == 200
    assert f'href="{DASHBOARD}"' in response.content.decode()


def test_a_user_who_is_not_staff_is_sent_to_the_login(client):
    client.force_login(UserFactory())

    response = client.get(DASHBOARD)

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_staff_without_the_runs_permission_are_refused(client):
    client.force_login(StaffFactory())

    assert client.get(DASHBOARD).status_code == 403


def test_dashboard_charts_the_last_30_days_of_trades_fees_redemption_and_runs(admin_client, user, other_user, grant):
    ReconciliationRunFactory(status=RunStatus.PASSED)
    ReconciliationRunFactory(status=RunStatus.FAILED, discrepancy_count=4)
    grant(user, "red_shard", 10)
    grant(other_user, "DIAMOND", 1000)
    listing = listing_create(seller_id=user.pk, asset_code="red_shard", quantity=10, unit_price=50)
    listing_purchase(listing_id=listing.pk, buyer_id=other_user.pk, idempotency_key="a", quantity=2)
    plant_attempts(AttemptOutcome.OK, 3, age=timedelta(minutes=10))
    plant_attempts(AttemptOutcome.NOT_FOUND, 1, age=timedelta(minutes=10))

    response = admin_client.get(DASHBOARD)

    html = response.content.decode()
    for chart_id in ("chart-trades", "chart-fees", "chart-redemption", "chart-runs"):
        assert f'id="{chart_id}"' in html
    charts = response.context["charts"]
    assert "No data" not in charts["trades"] and "<rect" in charts["trades"]
    assert "success 75%" in charts["redemption"]
    assert "#c0392b" in charts["runs"]  # today's last run failed
    assert "discrepancies 4" in charts["runs"]


def test_empty_dashboard_charts_say_so(admin_client):
    charts = admin_client.get(DASHBOARD).context["charts"]

    assert "No data" in charts["trades"] and "No data" in charts["fees"]
    assert "No verifications" in charts["redemption"] and "No reconciliation run" in charts["runs"]


def test_dashboard_queries_do_not_grow_with_the_data(
    admin_client, django_assert_max_num_queries, user, other_user, grant
):
    grant(user, "red_shard", 10)
    grant(other_user, "DIAMOND", 10_000)
    listing = listing_create(seller_id=user.pk, asset_code="red_shard", quantity=10, unit_price=50)
    for n in range(5):
        listing_purchase(listing_id=listing.pk, buyer_id=other_user.pk, idempotency_key=f"q{n}", quantity=1)
    plant_attempts(AttemptOutcome.OK, 20, age=timedelta(days=3))
    ReconciliationRunFactory.create_batch(40, status=RunStatus.PASSED)

    with django_assert_max_num_queries(14):
        admin_client.get(DASHBOARD)


def test_dashboard_shows_the_last_checkpoint_and_the_last_block_with_its_hash(admin_client, user, settings, grant):
    settings.JOURNAL_COMMIT_GRACE_SECONDS = 0
    grant(user, "DIAMOND", 5)
    journal_seal()
    call_command("reconcile_ledger")

    response = admin_client.get(DASHBOARD)

    head, checkpoint = JournalBlock.objects.get(), JournalCheckpoint.objects.get()
    assert (response.context["journal_head"], response.context["checkpoint"]) == (head, checkpoint)
    html = response.content.decode()
    assert f'<code id="journal-head">{head.hash}</code>' in html
    assert f"through leg {checkpoint.through_leg_id}" in html
