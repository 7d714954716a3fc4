"""The activity feed (SPEC §11): read from the journal legs and the item events, newest first, cursor pages."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from gifts.services import gift_send
from items.services import items_expire
from ledger.services import balance_change
from market.buy_order_services import buy_order_cancel, buy_order_place
from market.services import listing_create, listing_purchase
from redemption.services import merchant_get_or_create, merchant_staff_add, order_create, order_fulfil
from tests.factories import StaffFactory, UserFactory

pytestmark = pytest.mark.django_db

ACTIVITY = "/api/v4/activity"


@pytest.fixture
def history(alice, bob, give_item, grant):
    """Everything that can happen to alice's backpack, oldest first."""
    carol = UserFactory(username="carol")
    grant(alice, "DIAMOND", 1000)
    balance_change(user_id=alice.pk, asset_code="DIAMOND", delta=-10, business_type="shop", business_id="s1")
    expiring = give_item(alice, name="Old coupon", expires_at=timezone.now() + timedelta(milliseconds=1))
    voucher = give_item(alice, name="Noodles")
    merchant = merchant_get_or_create(code="M1", name="Noodle bar")
    staff = StaffFactory()
    merchant_staff_add(merchant_id=merchant.pk, user_id=staff.pk)
    order_fulfil(code=order_create(item_id=voucher.pk, user_id=alice.pk).code, staff_user_id=staff.pk)
    sold = give_item(alice, name="Card")
    grant(carol, "DIAMOND", 100)
    item_listing = listing_create(seller_id=alice.pk, item_instance_id=sold.pk, unit_price=40)
    listing_purchase(listing_id=item_listing.pk, buyer_id=carol.pk, idempotency_key="c1")
    grant(alice, "red_shard", 10)
    gift_send(actor=alice, to_username="bob", idempotency_key="g1", asset_code="red_shard", amount=3, message="for you")
    present = give_item(bob, name="Cake")
    gift_send(actor=bob, to_username="alice", idempotency_key="g2", item_instance_id=present.pk, message="happy day")
    grant(bob, "blue_shard", 10)
    asset_listing = listing_create(seller_id=bob.pk, asset_code="blue_shard", quantity=5, unit_price=20)
    listing_purchase(listing_id=asset_listing.pk, buyer_id=alice.pk, quantity=2, idempotency_key="b1")
    items_expire()
    return {"expired": expiring, "carol": carol}


def feed(api, **params) -> list[dict]:
    response = api.get(ACTIVITY, params)
    assert response.status_code == 200, response.content
    return response.json()["results"]


def summary(row) -> tuple:
    return (row["kind"], row["asset_code"] or row["item_name"], row["delta_available"], row["counterparty"])


def test_everything_that_happened_newest_first(client_for, alice, history):
    rows = feed(client_for(alice), page_size=200)

    assert [summary(row) for row in rows] == [
        ("expiry", "Old coupon", None, None),
        ("purchase", "blue_shard", 2, "b***"),
        ("purchase", "DIAMOND", -40, "b***"),
        ("gift_received", "Cake", None, "b***"),
        ("gift_sent", "red_shard", -3, "b***"),
        ("grant", "red_shard", 10, None),
        ("sale", "DIAMOND", 38, "c***"),
        ("sale", "Card", None, "c***"),
        ("grant", "Card", None, None),
        ("redemption", "Noodles", None, None),
        ("grant", "Noodles", None, None),
        ("grant", "Old coupon", None, None),
        ("spend", "DIAMOND", -10, None),
        ("grant", "DIAMOND", 1000, None),
    ]
    gifts = {row["kind"]: row["message"] for row in rows if row["kind"].startswith("gift")}
    assert gifts == {"gift_received": "happy day", "gift_sent": "for you"}


def test_the_other_side_sees_its_own_story(client_for, bob, history):
    rows = feed(client_for(bob), page_size=200)

    assert [summary(row) for row in rows][:5] == [
        ("sale", "blue_shard", 0, "a***"),  # the hold settled: delta_frozen -2
        ("sale", "DIAMOND", 38, "a***"),
        ("listing", "blue_shard", -5, None),
        ("grant", "blue_shard", 10, None),
        ("gift_sent", "Cake", None, "a***"),
    ]
    assert ("gift_received", "red_shard", 3, "a***") in [summary(row) for row in rows]
    assert all(row["kind"] != "expiry" for row in rows)


def test_pages_follow_each_other_without_gaps_or_repeats(client_for, alice, history):
    api = client_for(alice)
    everything = feed(api, page_size=200)

    pages, url = [], f"{ACTIVITY}?page_size=3"
    while url:
        body = api.get(url).json()
        pages.append(body["results"])
        url = body["next"]

    assert [len(page) for page in pages] == [3, 3, 3, 3, 2]
    assert [row for page in pages for row in page] == everything


def test_what_happens_between_pages_does_not_shift_them(client_for, alice, history, grant):
    api = client_for(alice)
    first = api.get(ACTIVITY, {"page_size": 5}).json()
    grant(alice, "green_shard", 1)

    second = api.get(first["next"]).json()["results"]

    assert [row["id"] for row in first["results"] + second] == [row["id"] for row in feed(api, page_size=200)[1:11]]


def test_a_page_takes_the_same_queries_whatever_its_size(client_for, alice, history):
    api = client_for(alice)

    with CaptureQueriesContext(connection) as small:
        assert len(feed(api, page_size=4)) == 4
    with CaptureQueriesContext(connection) as large:
        assert len(feed(api, page_size=200)) == 14

    # Three streams, the other parties of trades and gifts, the gifts' messages.
    assert len(small) == len(large) == 5


def test_nobody_elses_activity(client_for, history):
    assert feed(client_for(UserFactory())) == []


@pytest.mark.parametrize("params", [{"cursor": "not-a-cursor"}, {"cursor": "WzEsMl0"}, {"page_size": 201}])
def test_bad_paging_is_400(api, params):
    response = api.get(ACTIVITY, params)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_input"


def test_a_buy_order_shows_its_hold_each_fill_and_the_release(client_for, alice, bob, grant):
    grant(alice, "DIAMOND", 100)
    grant(bob, "red_shard", 10)
    listing_create(seller_id=bob.pk, asset_code="red_shard", quantity=2, unit_price=8)
    order = buy_order_place(
        buyer_id=alice.pk, asset_code="red_shard", quantity=5, max_unit_price=10, idempotency_key="b"
    )
    buy_order_cancel(buy_order_id=order.order.pk, actor=alice)

    rows = [(*summary(row), row["delta_frozen"]) for row in feed(client_for(alice))]
    bobs = [(*summary(row), row["delta_frozen"]) for row in feed(client_for(bob))][:2]

    assert rows == [
        ("buy_order_closed", "DIAMOND", 30, None, -30),
        ("purchase", "DIAMOND", 4, "b***", -20),  # 2 at 8 settled from the hold of 2 at 10: 4 back
        ("purchase", "red_shard", 2, "b***", 0),
        ("buy_order", "DIAMOND", -50, None, 50),
        ("grant", "DIAMOND", 100, None, 0),
    ]
    assert bobs == [("sale", "red_shard", 0, "a***", -2), ("sale", "DIAMOND", 15, "a***", 0)]  # 16 less the fee
