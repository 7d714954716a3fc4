"""The admin's price chart page in a real browser, with a year of trades; a screenshot is kept."""

from datetime import timedelta

import pytest
from django.utils import timezone

from market.models import MarketTrade
from market.services import listing_create, listing_purchase
from tests.factories import StaffFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_the_price_chart_page_renders_a_year_of_trades(page, artifacts, grant):
    seller, buyer = UserFactory(), UserFactory()
    grant(seller, "red_shard", 1000)
    grant(buyer, "DIAMOND", 1_000_000)
    for n in range(40):
        listing = listing_create(seller_id=seller.pk, asset_code="red_shard", quantity=4, unit_price=90 + (n * 7) % 23)
        trade = listing_purchase(listing_id=listing.pk, buyer_id=buyer.pk, idempotency_key=f"p{n}", quantity=1 + n % 4)
        MarketTrade.objects.filter(pk=trade.trade.pk).update(created_at=timezone.now() - timedelta(days=360 - 9 * n))
    page.log_in(StaffFactory(is_superuser=True))

    page.open("/admin/market/markettrade/prices/?asset=red_shard&price_asset=DIAMOND&range=365d")
    chart = page.wait_for("#price-chart")
    page.wait_for("#volume-chart")
    page.driver.execute_script("arguments[0].scrollIntoView()", page.find("#price-charts"))
    page.driver.save_screenshot(str(artifacts / "price-chart.png"))

    assert chart.size["width"] > 400 and chart.size["height"] > 100
    assert page.driver.find_elements("css selector", "#price-chart polyline")
    assert len(page.driver.find_elements("css selector", "#volume-chart rect")) >= 40
    assert "No data" not in page.find("#price-charts").text
