"""The buy order endpoints: status, body and error codes through the URL, with auth."""

import pytest

from market.services import listing_create
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

URL = "/api/v4/market/buy-orders"


@pytest.fixture
def buyer(user, grant):
    grant(user, "DIAMOND", 1000)
    return user


def place(api, key="k-1", **body):
    return api.post(
        URL,
        {"asset_code": "red_shard", "quantity": 5, "max_unit_price": 10, **body},
        format="json",
        headers={"Idempotency-Key": key},
    )


def test_placing_answers_201_with_the_order_and_its_immediate_fills(api, buyer, available, frozen, grant):
    seller = UserFactory()
    grant(seller, "red_shard", 10)
    listing = listing_create(seller_id=seller.pk, asset_code="red_shard", quantity=3, unit_price=8)

    response = place(api)

    assert response.status_code == 201
    body = response.json()
    assert {k: body[k] for k in ("asset_code", "price_asset_code", "quantity", "quantity_remaining", "status")} == {
        "asset_code": "red_shard",
        "price_asset_code": "DIAMOND",
        "quantity": 5,
        "quantity_remaining": 2,
        "status": "open",
    }
    [fill] = body["fills"]
    assert (fill["listing_id"], fill["buy_order_id"], fill["quantity"], fill["unit_price"]) == (
        listing.pk,
        body["id"],
        3,
        8,
    )
    assert (available(buyer), frozen(buyer)) == (1000 - 24 - 20, 20)


def test_a_retry_with_the_key_replays_and_another_body_conflicts(api, buyer, frozen):
    first = place(api)

    again = place(api)
    other = place(api, quantity=6)

    assert again.status_code == 201 and again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert other.status_code == 409 and other.json()["error"]["code"] == "idempotency_conflict"
    assert frozen(buyer) == 50


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"quantity": 0}, 400, "invalid_input"),
        ({"max_unit_price": "ten"}, 400, "invalid_input"),
        ({"asset_code": "nope"}, 400, "unknown_asset"),
        ({"asset_code": "DIAMOND"}, 400, "invalid_buy_order"),
        ({"max_unit_price": 1000}, 409, "insufficient_balance"),
    ],
)
def test_bad_orders_are_refused_with_their_code(api, buyer, body, status, code, frozen):
    response = place(api, **body)

    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert frozen(buyer) == 0


def test_mine_lists_the_callers_orders_by_status(api, buyer, client_for, grant):
    place(api, key="a")
    cancelled = place(api, key="b").json()["id"]
    api.post(f"{URL}/{cancelled}/cancel")
    other = UserFactory()
    grant(other, "DIAMOND", 100)
    place(client_for(other), key="a")

    everything = api.get(f"{URL}/mine").json()["results"]
    open_only = api.get(f"{URL}/mine", {"status": "open"}).json()["results"]

    assert len(everything) == 2
    assert [o["status"] for o in open_only] == ["open"]
    assert api.get(f"{URL}/mine", {"status": "nope"}).status_code == 400


def test_another_customers_order_is_a_404(api, buyer, client_for, frozen):
    order_id = place(api).json()["id"]
    stranger = client_for(UserFactory())

    assert api.get(f"{URL}/{order_id}").status_code == 200
    for response in (stranger.get(f"{URL}/{order_id}"), stranger.post(f"{URL}/{order_id}/cancel")):
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "buy_order_not_found"
    assert frozen(buyer) == 50


def test_cancel_releases_what_is_held_and_is_retry_safe(api, buyer, available, frozen):
    order_id = place(api).json()["id"]

    first = api.post(f"{URL}/{order_id}/cancel", headers={"Idempotency-Key": "c-1"})
    again = api.post(f"{URL}/{order_id}/cancel", headers={"Idempotency-Key": "c-1"})
    unkeyed = api.post(f"{URL}/{order_id}/cancel")

    assert first.status_code == again.status_code == 200
    assert first.json() == again.json() and first.json()["status"] == "cancelled"
    assert unkeyed.status_code == 409 and unkeyed.json()["error"]["code"] == "buy_order_not_open"
    assert (available(buyer), frozen(buyer)) == (1000, 0)


def test_the_book_shows_bids_and_asks_and_the_summary_the_highest_bid(api, buyer, client_for, grant):
    place(api, key="a", quantity=2, max_unit_price=7)
    place(api, key="b", quantity=3, max_unit_price=7)
    place(api, key="c", quantity=1, max_unit_price=9)
    seller = UserFactory()
    grant(seller, "red_shard", 10)
    listing_create(seller_id=seller.pk, asset_code="red_shard", quantity=4, unit_price=12)

    book = api.get("/api/v4/market/book", {"asset_code": "red_shard"}).json()
    summary = api.get("/api/v4/market/summary").json()["assets"]

    assert book["bids"] == [
        {"unit_price": 9, "quantity": 1, "orders": 1},
        {"unit_price": 7, "quantity": 5, "orders": 2},
    ]
    assert book["asks"] == book["levels"] == [{"unit_price": 12, "quantity": 4, "listings": 1}]
    red = next(row for row in summary if row["asset_code"] == "red_shard")
    assert (red["highest_bid"], red["lowest_ask"]) == (9, 12)
