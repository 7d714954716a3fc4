import pytest

from items.models import ItemStatus
from market.models import MarketTrade
from market.services import listing_cancel, listing_create, listing_purchase
from tests.factories import OperatorFactory, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db

LISTINGS = "/api/v4/market/listings"


def purchase_url(listing):
    return f"{LISTINGS}/{listing.pk}/purchase"


@pytest.fixture
def seller(user, grant):
    grant(user, "red_shard", 100)
    grant(user, "blue_shard", 100)
    return user


@pytest.fixture
def buyer(other_user, grant):
    grant(other_user, "DIAMOND", 1000)
    return other_user


@pytest.fixture
def buyer_api(client_for, buyer):
    return client_for(buyer)


def error_code(response) -> str:
    return response.json()["error"]["code"]


def test_market_requires_authentication(client_for):
    response = client_for(None).get(LISTINGS)

    assert response.status_code == 401
    assert error_code(response) == "not_authenticated"


def test_create_an_asset_listing(api, seller, frozen):
    response = api.post(LISTINGS, {"asset_code": "red_shard", "quantity": 5, "unit_price": 12}, format="json")

    assert response.status_code == 201
    body = response.json()
    assert body["listing_type"] == "asset"
    assert (body["asset_code"], body["quantity"], body["quantity_remaining"]) == ("red_shard", 5, 5)
    assert (body["price_asset_code"], body["unit_price"], body["status"]) == ("DIAMOND", 12, "on_sale")
    assert body["seller_id"] == seller.pk
    assert frozen(seller, "red_shard") == 5


def test_create_an_item_listing(api, user, give_item):
    item = give_item(user, item_type="product", name="Dumplings")

    response = api.post(LISTINGS, {"item_instance_id": item.pk, "unit_price": 300}, format="json")

    assert response.status_code == 201
    body = response.json()
    assert (body["listing_type"], body["item_instance_id"], body["item_type"], body["item_name"]) == (
        "item",
        item.pk,
        "product",
        "Dumplings",
    )
    assert body["asset_code"] is None and body["quantity"] is None
    item.refresh_from_db()
    assert item.status == ItemStatus.LOCKED


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"asset_code": "red_shard", "quantity": 500, "unit_price": 1}, 409, "insufficient_balance"),
        (
            {"asset_code": "DIAMOND", "quantity": 1, "unit_price": 1, "price_asset_code": "red_shard"},
            409,
            "asset_not_tradable",
        ),
        ({"asset_code": "red_shard", "quantity": "5", "unit_price": 1}, 400, "invalid_input"),
        ({"asset_code": "red_shard", "quantity": 5, "unit_price": 0}, 400, "invalid_input"),
        ({"asset_code": "red_shard", "quantity": 5, "unit_price": 1.5}, 400, "invalid_input"),
        ({"asset_code": "red_shard", "unit_price": 5}, 400, "invalid_listing"),
        ({"unit_price": 5}, 400, "invalid_listing"),
        ({"asset_code": "gold", "quantity": 1, "unit_price": 5}, 400, "unknown_asset"),
    ],
)
def test_invalid_listings_are_refused_with_their_code(api, seller, body, status, code, frozen):
    response = api.post(LISTINGS, body, format="json")

    assert response.status_code == status
    assert error_code(response) == code
    assert frozen(seller, "red_shard") == 0


def test_listing_an_item_that_is_not_available_is_item_not_available(api, user, other_user, give_item):
    item = give_item(user)
    listing_create(seller_id=user.pk, item_instance_id=item.pk, unit_price=5)

    response = api.post(LISTINGS, {"item_instance_id": item.pk, "unit_price": 5}, format="json")

    assert response.status_code == 409
    assert error_code(response) == "item_not_available"


def test_listing_someone_elses_item_is_not_found(api, other_user, give_item):
    item = give_item(other_user)

    response = api.post(LISTINGS, {"item_instance_id": item.pk, "unit_price": 5}, format="json")

    assert response.status_code == 404
    assert error_code(response) == "item_not_found"


def test_too_many_open_listings(api, seller, settings):
    settings.MARKET_MAX_OPEN_LISTINGS = 1
    listing_create(seller_id=seller.pk, asset_code="red_shard", quantity=1, unit_price=5)

    response = api.post(LISTINGS, {"asset_code": "red_shard", "quantity": 1, "unit_price": 5}, format="json")

    assert response.status_code == 409
    assert error_code(response) == "too_many_open_listings"


def test_browse_shows_listings_on_sale_with_filters(buyer_api, seller, give_item):
    red = listing_create(seller_id=seller.pk, asset_code="red_shard", quantity=5, unit_price=10)
    blue = listing_create(seller_id=seller.pk, asset_code="blue_shard", quantity=5, unit_price=20)
    voucher = listing_create(seller_id=seller.pk, item_instance_id=give_item(seller).pk, unit_price=30)
    product = listing_create(
        seller_id=seller.pk, item_instance_id=give_item(seller, item_type="product").pk, unit_price=40
    )
    cancelled = listing_create(seller_id=seller.pk, asset_code="red_shard", quantity=1, unit_price=15)
    listing_cancel(listing_id=cancelled.pk, actor=seller)

    def ids(**query):
        response = buyer_api.get(LISTINGS, query)
        assert response.status_code == 200
        return [row["id"] for row in response.json()["results"]]

    assert ids() == [product.pk, voucher.pk, blue.pk, red.pk]
    assert ids(listing_type="asset") == [blue.pk, red.pk]
    assert ids(asset_code="red_shard") == [red.pk]
    assert ids(item_type="product") == [product.pk]
    assert ids(min_price=20, max_price=30) == [voucher.pk, blue.pk]
    assert ids(ordering="unit_price") == [red.pk, blue.pk, voucher.pk, product.pk]
    assert ids(ordering="-unit_price") == [product.pk, voucher.pk, blue.pk, red.pk]
    assert ids(ordering="created_at") == [red.pk, blue.pk, voucher.pk, product.pk]


def test_browse_refuses_bad_filters(buyer_api):
    response = buyer_api.get(LISTINGS, {"ordering": "seller", "min_price": "cheap"})

    assert response.status_code == 400
    assert set(response.json()["error"]["details"]) == {"ordering", "min_price"}


def test_browse_paginates_by_price_with_a_cursor(buyer_api, seller):
    prices = [50, 10, 40, 20, 30]
    for price in prices:
        listing_create(seller_id=seller.pk, asset_code="red_shard", quantity=1, unit_price=price)

    first = buyer_api.get(LISTINGS, {"ordering": "unit_price", "page_size": 2}).json()
    second = buyer_api.get(first["next"]).json()
    third = buyer_api.get(second["next"]).json()

    pages = [[row["unit_price"] for row in page["results"]] for page in (first, second, third)]
    assert pages == [[10, 20], [30, 40], [50]]
    assert third["next"] is None


def test_browse_uses_a_fixed_number_of_queries(buyer_api, seller, django_assert_num_queries, give_item):
    for n in range(5):
        listing_create(seller_id=seller.pk, asset_code="red_shard", quantity=1, unit_price=10 + n)
        listing_create(seller_id=seller.pk, item_instance_id=give_item(seller).pk, unit_price=10 + n)

    with django_assert_num_queries(1):
        response = buyer_api.get(LISTINGS)

    assert len(response.json()["results"]) == 10


def test_listing_detail_is_visible_while_on_sale_then_only_to_its_parties(
    api, buyer_api, client_for, seller, buyer, give_item
):
    listing = listing_create(seller_id=seller.pk, item_instance_id=give_item(seller).pk, unit_price=10)
    stranger = client_for(UserFactory())
    url = f"{LISTINGS}/{listing.pk}"

    assert stranger.get(url).status_code == 200
    listing_purchase(listing_id=listing.pk, buyer_id=buyer.pk, idempotency_key="k")

    assert stranger.get(url).status_code == 404
    assert error_code(stranger.get(url)) == "listing_not_found"
    assert api.get(url).json()["status"] == "sold"
    assert buyer_api.get(url).json()["status"] == "sold"


def test_purchase_an_asset_listing(buyer_api, seller, buyer, available):
    listing = listing_create(seller_id=seller.pk, asset_code="red_shard", quantity=10, unit_price=40)

    response = buyer_api.post(purchase_url(listing), {"quantity": 3}, format="json")

    assert response.status_code == 201
    body = response.json()
    assert body["listing_id"] == listing.pk
    assert (body["buyer_id"], body["seller_id"]) == (buyer.pk, seller.pk)
    assert (body["quantity"], body["unit_price"], body["total"], body["fee"], body["seller_amount"]) == (
        3,
        40,
        120,
        6,
        114,
    )
    assert (body["listing_type"], body["asset_code"], body["price_asset_code"]) == ("asset", "red_shard", "DIAMOND")
    assert available(buyer) == 880
    assert available(buyer, "red_shard") == 3
    assert available(seller) == 114


def test_purchase_an_item_listing(buyer_api, seller, buyer, give_item):
    item = give_item(seller)
    listing = listing_create(seller_id=seller.pk, item_instance_id=item.pk, unit_price=100)

    response = buyer_api.post(purchase_url(listing), {}, format="json")

    assert response.status_code == 201
    assert response.json()["item_instance_id"] == item.pk
    item.refresh_from_db()
    assert item.owner_id == buyer.pk


def test_purchase_with_insufficient_balance_is_409_and_changes_nothing(client_for, seller, available, frozen, grant):
    poor = UserFactory()
    grant(poor, "DIAMOND", 10)
    listing = listing_create(seller_id=seller.pk, asset_code="red_shard", quantity=10, unit_price=40)

    response = client_for(poor).post(purchase_url(listing), {"quantity": 1}, format="json")

    assert response.status_code == 409
    assert error_code(response) == "insufficient_balance"
    assert available(poor) == 10
    assert frozen(seller, "red_shard") == 10
    assert not MarketTrade.objects.exists()


def test_buying_your_own_listing_is_409(api, seller, grant):
    grant(seller, "DIAMOND", 1000)
    listing = listing_create(seller_id=seller.pk, asset_code="red_shard", quantity=10, unit_price=40)

    response = api.post(purchase_url(listing), {"quantity": 1}, format="json")

    assert response.status_code == 409
    assert error_code(response) == "cannot_buy_own_listing"


def test_buying_more_than_remains_is_409(buyer_api, seller):
    listing = listing_create(seller_id=seller.pk, asset_code="red_shard", quantity=2, unit_price=1)

    response = buyer_api.post(purchase_url(listing), {"quantity": 3}, format="json")

    assert response.status_code == 409
    assert error_code(response) == "quantity_exceeds_remaining"
    assert response.json()["error"]["details"] == {"remaining": 2, "quantity": 3}


def test_buying_a_cancelled_listing_is_409(buyer_api, seller):
    listing = listing_create(seller_id=seller.pk, asset_code="red_shard", quantity=2, unit_price=1)
    listing_cancel(listing_id=listing.pk, actor=seller)

    response = buyer_api.post(purchase_url(listing), {"quantity": 1}, format="json")

    assert response.status_code == 409
    assert error_code(response) == "listing_not_on_sale"


def test_buying_an_unknown_listing_is_404(buyer_api):
    response = buyer_api.post(f"{LISTINGS}/999999/purchase", {"quantity": 1}, format="json")

    assert response.status_code == 404
    assert error_code(response) == "listing_not_found"


def test_retry_with_the_idempotency_key_header_returns_the_original_201_and_trade(buyer_api, seller, buyer, available):
    listing = listing_create(seller_id=seller.pk, asset_code="red_shard", quantity=10, unit_price=40)
    headers = {"Idempotency-Key": "purchase-7f3a"}

    first = buyer_api.post(purchase_url(listing), {"quantity": 3}, format="json", headers=headers)
    retry = buyer_api.post(purchase_url(listing), {"quantity": 3}, format="json", headers=headers)

    assert (first.status_code, retry.status_code) == (201, 201)  # SPEC §8: the original status and body
    assert retry["Idempotent-Replayed"] == "true"
    assert retry.json() == first.json()
    assert available(buyer) == 880
    assert MarketTrade.objects.count() == 1


def test_retry_with_a_request_id_in_the_body_returns_the_trade(buyer_api, seller, buyer, available):
    listing = listing_create(seller_id=seller.pk, asset_code="red_shard", quantity=10, unit_price=40)
    body = {"quantity": 2, "request_id": "r-1"}

    first = buyer_api.post(purchase_url(listing), body, format="json")
    retry = buyer_api.post(purchase_url(listing), body, format="json")

    assert (first.status_code, retry.status_code) == (201, 200)
    assert retry.json()["id"] == first.json()["id"]
    assert available(buyer) == 920


def test_without_a_key_each_request_is_a_new_purchase(buyer_api, seller, buyer):
    listing = listing_create(seller_id=seller.pk, asset_code="red_shard", quantity=10, unit_price=40)

    first = buyer_api.post(purchase_url(listing), {"quantity": 1}, format="json")
    second = buyer_api.post(purchase_url(listing), {"quantity": 1}, format="json")

    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json()["id"] != second.json()["id"]


def test_the_same_key_with_another_quantity_is_an_idempotency_conflict(buyer_api, seller):
    listing = listing_create(seller_id=seller.pk, asset_code="red_shard", quantity=10, unit_price=40)
    headers = {"Idempotency-Key": "k"}
    buyer_api.post(purchase_url(listing), {"quantity": 3}, format="json", headers=headers)

    response = buyer_api.post(purchase_url(listing), {"quantity": 4}, format="json", headers=headers)

    assert response.status_code == 409
    assert error_code(response) == "idempotency_conflict"


def test_an_overlong_idempotency_key_is_invalid(buyer_api, seller):
    listing = listing_create(seller_id=seller.pk, asset_code="red_shard", quantity=10, unit_price=40)

    response = buyer_api.post(
        purchase_url(listing), {"quantity": 1}, format="json", headers={"Idempotency-Key": "x" * 65}
    )

    assert response.status_code == 400
    assert error_code(response) == "invalid_input"


def test_cancel_by_the_seller_releases_the_hold(api, seller, available, frozen):
    listing = listing_create(seller_id=seller.pk, asset_code="red_shard", quantity=10, unit_price=40)

    response = api.post(f"{LISTINGS}/{listing.pk}/cancel")

    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert (available(seller, "red_shard"), frozen(seller, "red_shard")) == (100, 0)


def test_cancel_by_someone_else_or_a_cashier_is_404_and_by_an_operator_is_allowed(buyer_api, client_for, seller):
    listing = listing_create(seller_id=seller.pk, asset_code="red_shard", quantity=10, unit_price=40)

    refused = buyer_api.post(f"{LISTINGS}/{listing.pk}/cancel")
    by_cashier = client_for(StaffFactory()).post(f"{LISTINGS}/{listing.pk}/cancel")
    by_operator = client_for(OperatorFactory()).post(f"{LISTINGS}/{listing.pk}/cancel")

    assert refused.status_code == by_cashier.status_code == 404
    assert error_code(refused) == "listing_not_found"
    assert by_operator.status_code == 200
    assert by_operator.json()["status"] == "cancelled"


def test_cancel_twice_is_409(api, seller):
    listing = listing_create(seller_id=seller.pk, asset_code="red_shard", quantity=10, unit_price=40)
    api.post(f"{LISTINGS}/{listing.pk}/cancel")

    response = api.post(f"{LISTINGS}/{listing.pk}/cancel")

    assert response.status_code == 409
    assert error_code(response) == "listing_not_on_sale"


def test_my_listings_are_the_callers_in_every_status(api, seller, buyer, grant):
    on_sale = listing_create(seller_id=seller.pk, asset_code="red_shard", quantity=10, unit_price=40)
    cancelled = listing_create(seller_id=seller.pk, asset_code="blue_shard", quantity=1, unit_price=40)
    listing_cancel(listing_id=cancelled.pk, actor=seller)
    grant(buyer, "red_shard", 5)
    listing_create(seller_id=buyer.pk, asset_code="red_shard", quantity=5, unit_price=1)

    everything = api.get(f"{LISTINGS}/mine").json()["results"]
    only_cancelled = api.get(f"{LISTINGS}/mine", {"status": "cancelled"}).json()["results"]

    assert [row["id"] for row in everything] == [cancelled.pk, on_sale.pk]
    assert [row["id"] for row in only_cancelled] == [cancelled.pk]


def test_trades_are_the_callers_as_buyer_or_seller(client_for, seller, buyer, grant):
    third = UserFactory()
    grant(third, "DIAMOND", 1000)
    listing = listing_create(seller_id=seller.pk, asset_code="red_shard", quantity=10, unit_price=40)
    bought = listing_purchase(listing_id=listing.pk, buyer_id=buyer.pk, quantity=1, idempotency_key="a").trade
    other = listing_purchase(listing_id=listing.pk, buyer_id=third.pk, quantity=2, idempotency_key="b").trade

    as_seller = client_for(seller).get("/api/v4/market/trades").json()["results"]
    as_buyer = client_for(buyer).get("/api/v4/market/trades").json()["results"]

    assert [row["id"] for row in as_seller] == [other.pk, bought.pk]
    assert [row["id"] for row in as_buyer] == [bought.pk]
    assert as_buyer[0]["total"] == 40


def test_trades_and_my_listings_use_a_fixed_number_of_queries(api, seller, buyer, django_assert_num_queries):
    for n in range(4):
        listing = listing_create(seller_id=seller.pk, asset_code="red_shard", quantity=2, unit_price=10 + n)
        listing_purchase(listing_id=listing.pk, buyer_id=buyer.pk, quantity=1, idempotency_key=f"k{n}")

    with django_assert_num_queries(1):
        trades = api.get("/api/v4/market/trades")
    with django_assert_num_queries(1):
        mine = api.get(f"{LISTINGS}/mine")

    assert len(trades.json()["results"]) == 4
    assert len(mine.json()["results"]) == 4
