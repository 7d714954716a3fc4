import pytest
from django.core.management import call_command

from ledger.models import JournalLeg
from ledger.services import hold_create
from market.services import listing_create, listing_purchase
from operations.alerts import alert_fire
from operations.models import Alert, ReconciliationRun, RunStatus
from redemption.services import order_create
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def books(user, other_user, give_item, grant):
    """Balances and a hold, a free item, a pending redemption order, an item listing and a partly
    bought asset listing: everything live that the checks look at."""
    grant(user, "DIAMOND", 100)
    grant(other_user, "red_shard", 10)
    hold_create(user_id=other_user.pk, asset_code="red_shard", amount=4, business_type="listing", business_id="1")
    order = order_create(item_id=give_item(user).pk, user_id=user.pk).order
    item_listing = listing_create(seller_id=user.pk, item_instance_id=give_item(user).pk, unit_price=30)
    asset_listing = listing_create(seller_id=other_user.pk, asset_code="red_shard", quantity=5, unit_price=2)
    buyer = UserFactory()
    grant(buyer, "DIAMOND", 10)
    listing_purchase(listing_id=asset_listing.pk, buyer_id=buyer.pk, idempotency_key="k1", quantity=2)
    return {
        "user": user.pk,
        "leg": JournalLeg.objects.filter(asset_id="DIAMOND", account__user=user).get().pk,
        "free_item": give_item(user).pk,
        "order_item": order.item_instance_id,
        "listed_item": item_listing.item_instance_id,
        "item_listing": item_listing.pk,
        "asset_listing": asset_listing.pk,
        "listing_hold": asset_listing.hold_id,
    }


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
    "an item locked by no redemption order": (
        "UPDATE item_instances SET status = 'locked', locked_by = 'redemption:5f0c0e1a-0000-4000-8000-000000000000',"
        " locked_at = NOW() WHERE id = {free_item}",
        "redemption_locks_match_orders",
    ),
    "an item locked by no listing": (
        "UPDATE item_instances SET status = 'locked', locked_by = 'market:999999', locked_at = NOW()"
        " WHERE id = {free_item}",
        "market_locks_match_listings",
    ),
    "an item locked by no known holder": (
        "UPDATE item_instances SET status = 'locked', locked_by = 'lottery:1', locked_at = NOW() WHERE id = {free_item}",
        "item_lock_has_live_holder",
    ),
    "a pending order whose item was unlocked": (
        "UPDATE item_instances SET status = 'available', locked_by = NULL, locked_at = NULL WHERE id = {order_item}",
        "redemption_locks_match_orders",
    ),
    "an item listing whose item was unlocked": (
        "UPDATE item_instances SET status = 'available', locked_by = NULL, locked_at = NULL WHERE id = {listed_item}",
        "market_locks_match_listings",
    ),
    "an item listing pointing at an item an order holds": (
        "UPDATE market_listings SET item_instance_id = {order_item} WHERE id = {item_listing}",
        "market_locks_match_listings",
    ),
    "a listing whose hold was released": (
        "UPDATE asset_holds SET status = 'released', remaining = 0 WHERE id = {listing_hold}",
        "asset_listings_match_holds",
    ),
    "a listing whose hold differs from its remaining quantity": (
        "UPDATE market_listings SET quantity_remaining = quantity_remaining - 1 WHERE id = {asset_listing}",
        "asset_listings_match_holds",
    ),
    "an open hold of a cancelled listing": (
        "UPDATE market_listings SET status = 'cancelled' WHERE id = {asset_listing}",
        "asset_listings_match_holds",
    ),
}


@pytest.mark.parametrize("plant", PLANTS, ids=list(PLANTS))
def test_each_planted_discrepancy_is_found_stored_exits_1_and_posted(books, webhook, plant, execute_sql):
    sql, check = PLANTS[plant]
    execute_sql(sql.format(**books))

    with pytest.raises(SystemExit) as exit_status:
        call_command("reconcile_ledger")

    assert exit_status.value.code == 1
    run = ReconciliationRun.objects.get()
    assert run.status == RunStatus.FAILED
    assert run.checks[check] >= 1 and run.discrepancy_count == sum(run.checks.values())
    assert len(webhook) == 1
    assert webhook[0]["source"] == "reconciliation" and webhook[0]["details"]["run_id"] == run.pk
    assert Alert.objects.get().webhook_status == "HTTP 204"


def test_stored_discrepancies_are_capped_but_counted(books, settings, execute_sql):
    settings.RECONCILIATION_MAX_STORED = 2
    execute_sql(
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
