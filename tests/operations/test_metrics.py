import pytest
from django.core.management import call_command

from ledger.seal import journal_seal
from market.models import MarketTrade
from market.services import listing_create, listing_purchase
from operations.alerts import alert_fire
from redemption.models import AttemptKind, AttemptOutcome
from tests.factories import RedemptionAttemptFactory, StaffFactory

pytestmark = pytest.mark.django_db

TOKEN = "scrape-token-for-tests"


@pytest.fixture(autouse=True)
def metrics_token(settings):
    settings.METRICS_TOKEN = TOKEN


def metric_lines(client) -> dict[str, float]:
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    lines = {}
    for line in response.content.decode().splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            lines[name] = float(value)
    return lines


def test_metrics_expose_requests_alerts_and_reconciliation(client):
    client.get("/healthz")
    alert_fire(source="test", message="planted")
    call_command("reconcile_ledger")

    metrics = metric_lines(client)

    assert metrics['backpack_alerts_total{source="test"}'] == 1
    assert metrics["backpack_reconciliation_discrepancies"] == 0
    assert metrics["backpack_reconciliation_last_pass_timestamp_seconds"] > 0
    assert any(name.startswith("django_http_requests_total_by_view_transport_method_total") for name in metrics)


def test_metrics_expose_redemption_attempts_and_market_trades(client, user, other_user, grant):
    seller, buyer = user, other_user
    grant(seller, "red_shard", 10)
    grant(buyer, "DIAMOND", 1000)
    listing = listing_create(seller_id=seller.pk, asset_code="red_shard", quantity=10, unit_price=50)
    listing_purchase(listing_id=listing.pk, buyer_id=buyer.pk, idempotency_key="a", quantity=2)
    listing_purchase(listing_id=listing.pk, buyer_id=buyer.pk, idempotency_key="b", quantity=4)
    staff = StaffFactory()
    for outcome in (AttemptOutcome.OK, AttemptOutcome.OK, AttemptOutcome.NOT_FOUND):
        RedemptionAttemptFactory(kind=AttemptKind.LOOKUP, outcome=outcome, staff_user=staff)

    metrics = metric_lines(client)

    fees = sum(MarketTrade.objects.values_list("fee", flat=True))
    assert fees > 0
    assert metrics['backpack_market_trades_total{price_asset="DIAMOND"}'] == 2
    assert metrics['backpack_market_trade_volume_total{price_asset="DIAMOND"}'] == 300
    assert metrics['backpack_market_fees_total{price_asset="DIAMOND"}'] == fees
    assert metrics['backpack_redemption_attempts_total{outcome="ok"}'] == 2
    assert metrics['backpack_redemption_attempts_total{outcome="not_found"}'] == 1


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong-token", f"Basic {TOKEN}", TOKEN + "x", TOKEN, f"Token {TOKEN}", f"Bearer{TOKEN}"],
)
def test_metrics_need_the_scrape_token(client, authorization):
    headers = {"Authorization": authorization} if authorization else {}

    assert client.get("/metrics", headers=headers).status_code == 404


def test_without_a_token_configured_metrics_are_off(client, settings):
    settings.METRICS_TOKEN = ""

    assert client.get("/metrics", headers={"Authorization": "Bearer "}).status_code == 404


def test_metrics_expose_legs_since_the_checkpoint_and_the_age_of_the_last_block(client, user, settings, grant):
    settings.JOURNAL_COMMIT_GRACE_SECONDS = 0
    grant(user, "DIAMOND", 5)
    assert "backpack_journal_seconds_since_last_block" not in metric_lines(client)  # nothing sealed yet
    call_command("reconcile_ledger")
    journal_seal()
    grant(user, "DIAMOND", 1)

    metrics = metric_lines(client)

    assert metrics["backpack_journal_legs_since_checkpoint"] == 2
    assert 0 <= metrics["backpack_journal_seconds_since_last_block"] < 60
