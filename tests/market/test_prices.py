"""Market prices: buckets derived from the trades, the summary per asset and the order book, through the API."""

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from market.models import MarketTrade
from market.price_selectors import market_summary, order_book, price_buckets
from market.services import listing_cancel, listing_create, listing_purchase

pytestmark = pytest.mark.django_db

PRICES = "/api/v4/market/prices"
_keys = itertools.count(1)


@pytest.fixture
def seller(user, grant):
    grant(user, "red_shard", 1000)
    grant(user, "blue_shard", 1000)
    return user


@pytest.fixture
def buyer(other_user, grant):
    grant(other_user, "DIAMOND", 100_000)
    return other_user


@pytest.fixture
def trade(seller, buyer):
    """trade(unit_price, quantity, at=…, asset_code=…): one purchase through the services, dated `at`."""

    def make(unit_price: int, quantity: int = 1, *, at: datetime, asset_code: str = "red_shard") -> MarketTrade:
        listing = listing_create(seller_id=seller.pk, asset_code=asset_code, quantity=quantity, unit_price=unit_price)
        result = listing_purchase(
            listing_id=listing.pk, buyer_id=buyer.pk, idempotency_key=f"k{next(_keys)}", quantity=quantity
        )
        MarketTrade.objects.filter(pk=result.trade.pk).update(created_at=at)
        return result.trade

    return make


def error_code(response) -> str:
    return response.json()["error"]["code"]


HOUR_START = datetime(2026, 3, 10, 6, 0, tzinfo=UTC)  # 14:00 in Asia/Shanghai


def test_hourly_buckets_carry_open_high_low_close_volume_and_trades(api, trade):
    trade(10, 2, at=HOUR_START + timedelta(minutes=1))
    trade(15, 1, at=HOUR_START + timedelta(minutes=20))
    trade(8, 3, at=HOUR_START + timedelta(minutes=40))
    trade(12, 1, at=HOUR_START + timedelta(minutes=59))
    trade(20, 1, at=HOUR_START + timedelta(hours=2, minutes=5))
    trade(99, 1, at=HOUR_START + timedelta(minutes=30), asset_code="blue_shard")  # another asset

    response = api.get(
        f"{PRICES}/red_shard",
        {"interval": "1h", "from": HOUR_START.isoformat(), "to": (HOUR_START + timedelta(hours=3)).isoformat()},
    )

    assert response.status_code == 200
    body = response.json()
    assert (body["asset_code"], body["price_asset_code"], body["interval"]) == ("red_shard", "DIAMOND", "1h")
    first, second = body["buckets"]
    assert datetime.fromisoformat(first["start"]) == HOUR_START
    assert (first["open"], first["high"], first["low"], first["close"]) == (10, 15, 8, 12)
    assert (first["volume"], first["turnover"], first["trades"]) == (7, 20 + 15 + 24 + 12, 4)
    assert datetime.fromisoformat(second["start"]) == HOUR_START + timedelta(hours=2)
    assert (second["open"], second["close"], second["trades"]) == (20, 20, 1)


def test_daily_buckets_are_days_of_the_site_time_zone(trade, settings):
    settings.TIME_ZONE = "Asia/Shanghai"
    local_midnight = datetime(2026, 3, 10, 16, 0, tzinfo=UTC)  # 2026-03-11 00:00 in Shanghai
    trade(10, at=local_midnight - timedelta(minutes=30))
    trade(11, at=local_midnight - timedelta(minutes=10))
    trade(30, at=local_midnight + timedelta(minutes=10))

    with timezone.override("Asia/Shanghai"):
        buckets = price_buckets(
            asset_code="red_shard",
            price_asset_code="DIAMOND",
            interval="1d",
            since=local_midnight - timedelta(days=2),
            until=local_midnight + timedelta(days=1),
        )

    assert [b["start"] for b in buckets] == [local_midnight - timedelta(days=1), local_midnight]
    assert [(b["open"], b["close"], b["trades"]) for b in buckets] == [(10, 11, 2), (30, 30, 1)]


def test_buckets_take_a_fixed_number_of_queries(trade, django_assert_num_queries):
    for minute in range(0, 300, 7):
        trade(10 + minute % 5, at=HOUR_START + timedelta(minutes=minute))

    # the asset, the price asset, the grouped buckets, the open and close prices
    with django_assert_num_queries(4):
        buckets = price_buckets(
            asset_code="red_shard",
            price_asset_code="DIAMOND",
            interval="1h",
            since=HOUR_START,
            until=HOUR_START + timedelta(hours=6),
        )

    assert len(buckets) == 5


def test_the_default_range_is_the_last_24_hours(api, trade):
    now = timezone.now()
    trade(10, at=now - timedelta(hours=30))
    trade(11, at=now - timedelta(hours=1))

    body = api.get(f"{PRICES}/red_shard").json()

    assert [bucket["close"] for bucket in body["buckets"]] == [11]


def test_an_asset_without_trades_has_no_buckets(api):
    response = api.get(f"{PRICES}/green_crystal", {"interval": "1d"})

    assert response.status_code == 200
    assert response.json()["buckets"] == []


@pytest.mark.parametrize("asset_code", ["no_such_asset", "RED_SHARD"])
def test_an_unknown_asset_is_a_404_in_the_error_envelope(api, asset_code):
    response = api.get(f"{PRICES}/{asset_code}")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "asset_not_found"
    assert set(response.json()["error"]) == {"code", "message", "details"}


@pytest.mark.parametrize(
    "query",
    [
        {"interval": "5m"},
        {"from": "yesterday"},
        {"to": "2026-13-45T00:00:00Z"},
        {"from": "2026-03-02T00:00:00Z", "to": "2026-03-01T00:00:00Z"},
        {"interval": "1h", "from": "2026-01-01T00:00:00Z", "to": "2026-03-01T00:00:00Z"},
        {"interval": "1d", "from": "2024-01-01T00:00:00Z", "to": "2026-03-01T00:00:00Z"},
        {"to": "0001-01-01T00:00:00Z"},
        {"from": "0001-01-01"},  # local midnight of year 1 is before year 1 in UTC (issue 20)
        {"to": "0001-01-01"},
        {"to": "9999-12-31T23:59:59-08:00"},  # in TIME_ZONE, after year 9999
        {"price_asset": "nothing"},
    ],
)
def test_bad_parameters_are_a_400(api, query):
    response = api.get(f"{PRICES}/red_shard", query)

    assert response.status_code == 400
    assert response.json()["error"]["code"] in {"invalid_input", "unknown_asset"}


def test_the_last_day_of_year_9999_is_a_range_without_trades(api):
    response = api.get(f"{PRICES}/red_shard", {"to": "9999-12-31"})

    assert response.status_code == 200
    assert (response.json()["from"], response.json()["buckets"]) == ("9999-12-30T00:00:00+08:00", [])


def test_prices_need_authentication(client_for):
    assert client_for(None).get(f"{PRICES}/red_shard").status_code == 401
    assert client_for(None).get("/api/v4/market/summary").status_code == 401
    assert client_for(None).get("/api/v4/market/book", {"asset_code": "red_shard"}).status_code == 401


def test_summary_gives_last_price_change_volume_lowest_ask_and_listings(api, trade, seller):
    now = timezone.now()
    trade(100, 5, at=now - timedelta(hours=30))  # the price 24 hours ago
    trade(110, 2, at=now - timedelta(hours=5))
    trade(125, 3, at=now - timedelta(minutes=5))
    listing_create(seller_id=seller.pk, asset_code="red_shard", quantity=4, unit_price=130)
    listing_create(seller_id=seller.pk, asset_code="red_shard", quantity=6, unit_price=128)
    gone = listing_create(seller_id=seller.pk, asset_code="red_shard", quantity=1, unit_price=1)
    listing_cancel(listing_id=gone.pk, actor=seller)

    response = api.get("/api/v4/market/summary")

    assert response.status_code == 200
    rows = {row["asset_code"]: row for row in response.json()["assets"]}
    assert "DIAMOND" not in rows  # the price asset is not listed against itself
    red = rows["red_shard"]
    assert (red["last_price"], red["change_24h"], red["change_24h_percent"]) == (125, 25, "25.00")
    assert (red["volume_24h"], red["turnover_24h"], red["trades_24h"]) == (5, 220 + 375, 2)
    assert (red["lowest_ask"], red["listings_on_sale"], red["quantity_on_sale"]) == (128, 2, 10)
    idle = rows["green_crystal"]
    assert (idle["last_price"], idle["change_24h"], idle["volume_24h"], idle["lowest_ask"]) == (None, None, 0, None)


def test_without_a_trade_before_the_window_the_change_is_against_its_first_trade(trade):
    now = timezone.now()
    trade(80, at=now - timedelta(hours=3))
    trade(60, at=now - timedelta(hours=1))

    red = next(row for row in market_summary(now=now) if row["asset_code"] == "red_shard")

    assert (red["last_price"], red["change_24h"], str(red["change_24h_percent"])) == (60, -20, "-25.00")


def test_summary_queries_are_fixed_for_the_catalog(trade, django_assert_num_queries):
    now = timezone.now()
    for hours in range(1, 40, 3):
        trade(50 + hours, at=now - timedelta(hours=hours))
        trade(70 + hours, at=now - timedelta(hours=hours), asset_code="blue_shard")

    # price asset, catalog, 24 h window, listings on sale, open buy orders, window prices, one per tradable asset (6)
    with django_assert_num_queries(6 + 6):
        market_summary(now=now)


def test_book_groups_open_listings_by_unit_price(api, seller):
    for quantity, price in ((3, 12), (2, 12), (5, 10), (1, 15)):
        listing_create(seller_id=seller.pk, asset_code="red_shard", quantity=quantity, unit_price=price)
    listing_create(seller_id=seller.pk, asset_code="blue_shard", quantity=9, unit_price=11)

    response = api.get("/api/v4/market/book", {"asset_code": "red_shard"})

    assert response.status_code == 200
    assert response.json()["levels"] == [
        {"unit_price": 10, "quantity": 5, "listings": 1},
        {"unit_price": 12, "quantity": 5, "listings": 2},
        {"unit_price": 15, "quantity": 1, "listings": 1},
    ]
    assert [level["unit_price"] for level in order_book(asset_code="red_shard", depth=2)["asks"]] == [10, 12]


def test_book_refuses_an_unknown_asset_and_a_bad_depth(api):
    assert api.get("/api/v4/market/book", {"asset_code": "nope"}).status_code == 404
    assert error_code(api.get("/api/v4/market/book")) == "invalid_input"
    assert api.get("/api/v4/market/book", {"asset_code": "red_shard", "depth": 0}).status_code == 400
    assert api.get("/api/v4/market/book", {"asset_code": "red_shard", "depth": 500}).status_code == 400


def test_the_schema_documents_the_price_endpoints(client):
    schema = client.get("/api/schema/").content.decode()

    assert "/api/v4/market/prices/{asset_code}" in schema
    assert "/api/v4/market/summary" in schema and "/api/v4/market/book" in schema
