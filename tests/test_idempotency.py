"""Every creating POST is retry-safe under Idempotency-Key (SPEC §8, core/idempotency.py)."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient

from core.models import IdempotencyRecord
from market.models import ListingStatus, MarketListing, MarketTrade
from market.services import listing_create
from redemption.models import OrderStatus, RedemptionOrder
from redemption.services import merchant_staff_add, order_fulfil, order_lookup
from tests.factories import MerchantFactory, StaffFactory, UserFactory

LISTINGS = "/api/v4/market/listings"
SHARDS = {"asset_code": "red_shard", "quantity": 2, "unit_price": 10}


def client(user) -> APIClient:
    api = APIClient(raise_request_exception=False)
    api.force_authenticate(user)
    return api


def post(api, url, body=None, key=None):
    headers = {"Idempotency-Key": key} if key is not None else {}
    return api.post(url, body, format="json", headers=headers)


@pytest.fixture
def seller(db, grant):
    seller = UserFactory()
    grant(seller, "red_shard", 100)
    return seller


@pytest.mark.django_db
def test_a_retried_listing_gets_the_original_response_and_makes_one_listing(seller, available):
    api = client(seller)

    first = post(api, LISTINGS, SHARDS, key="list-1")
    retry = post(api, LISTINGS, SHARDS, key="list-1")

    assert (first.status_code, retry.status_code) == (201, 201)
    assert retry.json() == first.json()
    assert retry["Idempotent-Replayed"] == "true"
    assert MarketListing.objects.count() == 1
    assert available(seller, "red_shard") == 98


@pytest.mark.django_db
def test_the_same_key_with_another_body_is_a_409_and_changes_nothing(seller):
    api = client(seller)
    post(api, LISTINGS, SHARDS, key="list-1")

    response = post(api, LISTINGS, {**SHARDS, "quantity": 3}, key="list-1")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "idempotency_conflict"
    assert MarketListing.objects.count() == 1


@pytest.mark.django_db
def test_the_same_key_on_another_path_is_a_409(seller):
    api = client(seller)
    listing_id = post(api, LISTINGS, SHARDS, key="k").json()["id"]

    response = post(api, f"{LISTINGS}/{listing_id}/cancel", key="k")

    assert response.status_code == 409
    assert MarketListing.objects.get(pk=listing_id).status == ListingStatus.ON_SALE


@pytest.mark.django_db
def test_keys_are_compared_byte_for_byte(seller):
    api = client(seller)

    responses = [post(api, LISTINGS, SHARDS, key=key) for key in ("Order-1", "order-1", "ORDER-1")]

    assert [r.status_code for r in responses] == [201, 201, 201]
    assert len({r.json()["id"] for r in responses}) == 3


@pytest.mark.django_db
@pytest.mark.parametrize("key", ["", "order-1 ", " order-1", "with space", "ключ", "k" * 65, "semi;colon"])
def test_a_malformed_key_is_a_400_and_creates_nothing(seller, key):
    response = post(client(seller), LISTINGS, SHARDS, key=key)

    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["error"]["details"]
    assert not MarketListing.objects.exists()


@pytest.mark.django_db
def test_keys_belong_to_their_caller(seller, grant):
    other = UserFactory()
    grant(other, "red_shard", 10)

    mine = post(client(seller), LISTINGS, SHARDS, key="shared")
    theirs = post(client(other), LISTINGS, SHARDS, key="shared")

    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert mine.json()["id"] != theirs.json()["id"]


@pytest.mark.django_db
def test_a_refused_request_is_not_remembered_so_its_retry_can_succeed(db, grant):
    poor = UserFactory()
    api = client(poor)

    refused = post(api, LISTINGS, SHARDS, key="list-1")
    grant(poor, "red_shard", 2)
    retried = post(api, LISTINGS, SHARDS, key="list-1")

    assert refused.status_code == 409
    assert retried.status_code == 201
    assert IdempotencyRecord.objects.count() == 1


@pytest.mark.django_db
def test_without_a_key_every_request_is_a_new_one(seller):
    api = client(seller)

    post(api, LISTINGS, SHARDS)
    post(api, LISTINGS, SHARDS)

    assert MarketListing.objects.count() == 2
    assert not IdempotencyRecord.objects.exists()


@pytest.mark.django_db
def test_a_retried_purchase_is_charged_once_and_answered_its_original_201(seller, available, grant):
    buyer = UserFactory()
    grant(buyer, "DIAMOND", 100)
    listing = listing_create(seller_id=seller.pk, asset_code="red_shard", quantity=5, unit_price=10)
    url = f"{LISTINGS}/{listing.pk}/purchase"

    first = post(client(buyer), url, {"quantity": 2}, key="buy-1")
    retry = post(client(buyer), url, {"quantity": 2}, key="buy-1")
    another = post(client(buyer), url, {"quantity": 2}, key="BUY-1")

    assert (first.status_code, retry.status_code, another.status_code) == (201, 201, 201)
    assert retry.json() == first.json()
    assert another.json()["id"] != first.json()["id"]
    assert MarketTrade.objects.count() == 2
    assert available(buyer) == 100 - 2 * 20


@pytest.mark.django_db
def test_the_markets_own_key_still_answers_a_purchase_whose_record_was_purged(seller, available, grant):
    buyer = UserFactory()
    grant(buyer, "DIAMOND", 100)
    listing = listing_create(seller_id=seller.pk, asset_code="red_shard", quantity=5, unit_price=10)
    url = f"{LISTINGS}/{listing.pk}/purchase"
    first = post(client(buyer), url, {"quantity": 1}, key="buy-1")
    IdempotencyRecord.objects.all().delete()

    retry = post(client(buyer), url, {"quantity": 1}, key="buy-1")

    assert retry.status_code == 200
    assert retry.json() == first.json()
    assert available(buyer) == 90


@pytest.mark.django_db
def test_a_retried_cancel_is_answered_like_the_first(seller):
    api = client(seller)
    listing_id = post(api, LISTINGS, SHARDS).json()["id"]

    first = post(api, f"{LISTINGS}/{listing_id}/cancel", key="cancel-1")
    retry = post(api, f"{LISTINGS}/{listing_id}/cancel", key="cancel-1")
    without_key = post(api, f"{LISTINGS}/{listing_id}/cancel")

    assert (first.status_code, retry.status_code) == (200, 200)
    assert retry.json() == first.json()
    assert without_key.status_code == 409


@pytest.mark.django_db
def test_a_retried_redemption_order_gets_the_same_working_code_which_is_never_stored(user, give_item):
    item = give_item(user)
    api = client(user)
    url = f"/api/v4/items/{item.pk}/redemption-orders"

    first = post(api, url, key="redeem-1")
    retry = post(api, url, key="redeem-1")

    assert (first.status_code, retry.status_code) == (201, 201)
    assert retry.json() == first.json()
    assert retry["Cache-Control"] == "no-store"
    assert RedemptionOrder.objects.get().status == OrderStatus.PENDING  # the retry did not void the code
    code = first.json()["code"]
    stored = IdempotencyRecord.objects.get().response_body
    assert code not in stored and code.replace("-", "") not in stored and "qr_svg" not in stored
    staff = StaffFactory()
    merchant_staff_add(merchant_id=MerchantFactory().pk, user_id=staff.pk)
    assert order_lookup(code=code, staff_user_id=staff.pk).order.order_id == RedemptionOrder.objects.get().order_id
    assert order_fulfil(code=code, staff_user_id=staff.pk).order.status == OrderStatus.FULFILLED


@pytest.mark.django_db
def test_a_new_key_for_the_same_item_is_a_new_code_as_before(user, give_item):
    item = give_item(user)
    api = client(user)
    url = f"/api/v4/items/{item.pk}/redemption-orders"

    first = post(api, url, key="redeem-1")
    second = post(api, url, key="redeem-2")

    assert first.json()["code"] != second.json()["code"]
    assert list(RedemptionOrder.objects.order_by("id").values_list("status", flat=True)) == ["cancelled", "pending"]


@pytest.mark.django_db
def test_records_older_than_the_ttl_are_purged(seller, settings):
    post(client(seller), LISTINGS, SHARDS, key="old")
    post(client(seller), LISTINGS, SHARDS, key="new")
    IdempotencyRecord.objects.filter(key_digest=IdempotencyRecord.objects.order_by("id").first().key_digest).update(
        created_at=timezone.now() - settings.IDEMPOTENCY_KEY_TTL - timedelta(minutes=1)
    )

    call_command("purge_idempotency_records")

    assert IdempotencyRecord.objects.count() == 1


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_eight_concurrent_identical_requests_make_one_listing_and_get_one_answer(available, grant, run_in_threads):
    seller = UserFactory()
    grant(seller, "red_shard", 100)

    responses = run_in_threads(lambda i: post(client(seller), LISTINGS, SHARDS, key="race"), 8)

    assert [r.status_code for r in responses] == [201] * 8
    assert len({r.content for r in responses}) == 1
    assert MarketListing.objects.count() == 1
    assert available(seller, "red_shard") == 98
