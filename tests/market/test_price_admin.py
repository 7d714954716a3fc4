"""The admin's price and volume chart page, through the URL as staff."""

from datetime import timedelta

import pytest
from django.utils import timezone

from market.models import MarketTrade
from market.services import listing_create, listing_purchase
from tests.factories import StaffFactory

pytestmark = pytest.mark.django_db

PRICES = "/admin/market/markettrade/prices/"


@pytest.fixture
def admin_client(client):
    client.force_login(StaffFactory(is_superuser=True))
    return client


def sell(seller, buyer, unit_price: int, *, days_ago: float, key: str) -> None:
    listing = listing_create(seller_id=seller.pk, asset_code="red_shard", quantity=1, unit_price=unit_price)
    trade = listing_purchase(listing_id=listing.pk, buyer_id=buyer.pk, idempotency_key=key, quantity=1).trade
    MarketTrade.objects.filter(pk=trade.pk).update(created_at=timezone.now() - timedelta(days=days_ago))


def test_the_chart_page_draws_price_and_volume_of_an_asset(admin_client, user, other_user, grant):
    grant(user, "red_shard", 100)
    grant(other_user, "DIAMOND", 10_000)
    for n in range(20):
        sell(user, other_user, 100 + n, days_ago=n * 15 + 0.5, key=f"k{n}")
    listing_create(seller_id=user.pk, asset_code="red_shard", quantity=3, unit_price=140)

    response = admin_client.get(PRICES, {"asset": "red_shard", "price_asset": "DIAMOND", "range": "365d"})

    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="price-chart"' in html and 'id="volume-chart"' in html
    assert "<polyline" in html and "No data" not in html
    assert len(response.context["charts"]["buckets"]) == 20
    assert response.context["summary"]["last_price"] == 100
    assert response.context["book"] == {"asks": [{"unit_price": 140, "quantity": 3, "listings": 1}], "bids": []}


def test_the_chart_page_renders_without_trades(admin_client):
    response = admin_client.get(PRICES)

    assert response.status_code == 200
    assert response.content.decode().count("No data") == 2


def test_the_trade_list_links_to_the_charts(admin_client):
    response = admin_client.get("/admin/market/markettrade/")

    assert f'href="{PRICES}"' in response.content.decode()


def test_staff_without_the_trades_permission_are_refused(client):
    client.force_login(StaffFactory())

    assert client.get(PRICES).status_code == 403
