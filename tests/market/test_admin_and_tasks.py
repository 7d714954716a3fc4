from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone

from backpack_site.schedule import PERIODIC_TASKS
from market.buy_order_services import buy_order_place
from market.models import BuyOrder, BuyOrderStatus, ListingStatus, MarketListing, MarketTrade
from market.reconciliation import book_not_crossed
from market.services import listing_create, listing_purchase
from market.tasks import expire_buy_orders, expire_listings
from operations.models import ReconciliationRun
from redemption.models import RedemptionOrder
from tests.factories import StaffFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/market/marketlisting/"
BUY_ORDERS = "/admin/market/buyorder/"


@pytest.fixture
def seller(user, grant):
    grant(user, "red_shard", 100)
    return user


@pytest.fixture
def admin_client(client):
    client.force_login(StaffFactory(is_superuser=True))
    return client


def test_admin_lists_and_searches_listings(admin_client, seller):
    listing = listing_create(seller_id=seller.pk, asset_code="red_shard", quantity=5, unit_price=9)

    found = admin_client.get(CHANGELIST, {"q": seller.username})
    missed = admin_client.get(CHANGELIST, {"q": "nobody-by-this-name"})

    assert found.status_code == 200
    assert f"/admin/market/marketlisting/{listing.pk}/change/" in found.content.decode()
    assert f"/admin/market/marketlisting/{listing.pk}/change/" not in missed.content.decode()


def test_admin_is_read_only(admin_client, seller):
    listing = listing_create(seller_id=seller.pk, asset_code="red_shard", quantity=5, unit_price=9)

    assert admin_client.get(f"{CHANGELIST}add/").status_code == 403
    assert admin_client.post(f"{CHANGELIST}{listing.pk}/change/", {"unit_price": 1}).status_code == 403
    assert admin_client.get("/admin/market/markettrade/").status_code == 200


def test_delist_action_cancels_through_the_service_and_releases(
    admin_client, seller, other_user, frozen, give_item, grant
):
    grant(other_user, "DIAMOND", 100)
    asset_listing = listing_create(seller_id=seller.pk, asset_code="red_shard", quantity=5, unit_price=9)
    item = give_item(seller)
    item_listing = listing_create(seller_id=seller.pk, item_instance_id=item.pk, unit_price=9)
    sold = listing_create(seller_id=seller.pk, asset_code="red_shard", quantity=1, unit_price=9)
    listing_purchase(listing_id=sold.pk, buyer_id=other_user.pk, quantity=1, idempotency_key="k")

    response = admin_client.post(
        CHANGELIST, {"action": "delist", "_selected_action": [asset_listing.pk, item_listing.pk, sold.pk]}
    )

    assert response.status_code == 302
    statuses = dict(MarketListing.objects.values_list("pk", "status"))
    assert statuses == {
        asset_listing.pk: ListingStatus.CANCELLED,
        item_listing.pk: ListingStatus.CANCELLED,
        sold.pk: ListingStatus.SOLD,
    }
    assert frozen(seller, "red_shard") == 0
    item.refresh_from_db()
    assert item.locked_by is None


def test_staff_without_the_permission_cannot_delist(client, seller):
    client.force_login(StaffFactory())
    listing = listing_create(seller_id=seller.pk, asset_code="red_shard", quantity=5, unit_price=9)

    client.post(CHANGELIST, {"action": "delist", "_selected_action": [listing.pk]})

    assert MarketListing.objects.get(pk=listing.pk).status == ListingStatus.ON_SALE


@override_settings(MARKET_LISTING_TTL=timedelta(seconds=-1))
def test_expire_listings_command_releases_what_expired(seller, capsys, frozen):
    listing_create(seller_id=seller.pk, asset_code="red_shard", quantity=5, unit_price=9)

    call_command("expire_listings")

    assert "expired 1 listing(s)" in capsys.readouterr().out
    assert frozen(seller, "red_shard") == 0


@override_settings(MARKET_LISTING_TTL=timedelta(seconds=-1))
def test_the_hourly_task_expires_listings_and_is_scheduled(seller, frozen):
    listing_create(seller_id=seller.pk, asset_code="red_shard", quantity=5, unit_price=9)

    assert expire_listings.apply().get() == 1
    assert frozen(seller, "red_shard") == 0
    assert [(p.task, p.hour) for p in PERIODIC_TASKS if p.name == "expire listings"] == [
        ("market.tasks.expire_listings", "*")
    ]


def test_seed_demo_leaves_a_month_of_history_and_a_two_sided_book_once():
    call_command("seed_demo", "--force")
    call_command("seed_demo", "--force")

    on_sale = MarketListing.objects.filter(status=ListingStatus.ON_SALE)
    assert sorted(on_sale.values_list("seller__username", "asset_id", "quantity_remaining")) == [
        ("alice", "blue_crystal", 1),
        ("alice", "red_shard", 10),
        ("bob", "green_shard", 15),
    ]
    resting = BuyOrder.objects.filter(status=BuyOrderStatus.OPEN)
    assert sorted(resting.values_list("buyer__username", "asset_id", "max_unit_price")) == [
        ("carol", "red_shard", 10),
        ("carol", "red_shard", 11),
        ("dave", "green_shard", 6),
    ]
    trades = MarketTrade.objects.all()
    days = {timezone.localdate(moment) for moment in trades.values_list("created_at", flat=True)}
    assert len(days) == 30 and trades.filter(buy_order__isnull=False).count() == 60
    assert ReconciliationRun.objects.filter(status="passed").count() == 30
    assert RedemptionOrder.objects.filter(status="fulfilled").count() == 30
    assert book_not_crossed() == []


@pytest.fixture
def bidder(other_user, grant):
    grant(other_user, "DIAMOND", 1000)
    return other_user


def place(buyer, key="k"):
    return buy_order_place(buyer_id=buyer.pk, asset_code="red_shard", quantity=5, max_unit_price=4, idempotency_key=key)


def test_admin_lists_buy_orders_read_only_and_cancels_them_through_the_service(admin_client, bidder, frozen):
    order = place(bidder).order

    listed = admin_client.get(BUY_ORDERS, {"q": bidder.username})
    refused = admin_client.post(f"{BUY_ORDERS}{order.pk}/change/", {"max_unit_price": 1})
    admin_client.post(BUY_ORDERS, {"action": "cancel", "_selected_action": [order.pk]})

    assert f"{BUY_ORDERS}{order.pk}/change/" in listed.content.decode()
    assert refused.status_code == 403
    assert BuyOrder.objects.get(pk=order.pk).status == BuyOrderStatus.CANCELLED
    assert frozen(bidder) == 0


def test_staff_who_may_only_look_are_not_offered_the_cancel_action(client, bidder):
    viewer = StaffFactory()
    viewer.user_permissions.add(Permission.objects.get(codename="view_buyorder"))
    client.force_login(viewer)
    order = place(bidder).order

    listed = client.get(BUY_ORDERS)
    client.post(BUY_ORDERS, {"action": "cancel", "_selected_action": [order.pk]})

    assert listed.status_code == 200 and 'value="cancel"' not in listed.content.decode()
    assert BuyOrder.objects.get(pk=order.pk).status == BuyOrderStatus.OPEN


@override_settings(MARKET_BUY_ORDER_TTL=timedelta(seconds=-1))
def test_the_expiry_command_and_the_scheduled_task_release_expired_buy_orders(bidder, capsys, frozen):
    place(bidder, key="a")
    call_command("expire_buy_orders")
    place(bidder, key="b")

    assert "expired 1 buy order(s)" in capsys.readouterr().out
    assert expire_buy_orders.apply().get() == 1
    assert frozen(bidder) == 0
    assert [p.task for p in PERIODIC_TASKS if p.name == "expire buy orders"] == ["market.tasks.expire_buy_orders"]
