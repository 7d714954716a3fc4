"""Whatever a client sends, the answer is a 4xx in the envelope, never a 500 or an HTML page (SPEC §8, issue 12).

Each test is one reproduction of the issue, through the URL, with the server's own error handling (the
test client does not re-raise: `raise_request_exception=False`, as a real server would answer).
"""

import io
import json

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from core.parsers import PayloadTooLarge, StrictJSONParser
from items.models import ItemInstance
from ledger.models import Balance, JournalEntry
from market.models import MarketListing
from tests.factories import OperatorFactory

pytestmark = pytest.mark.django_db


def as_server(user=None) -> APIClient:
    client = APIClient(raise_request_exception=False)
    if user is not None:
        client.force_authenticate(user)
    return client


@pytest.fixture
def customer(user):
    return as_server(user)


@pytest.fixture
def operator(db):
    return as_server(OperatorFactory())


def error_of(response, status: int) -> dict:
    """The error of a response that must be `status` in the envelope, as JSON."""
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    return body["error"]


def nested(depth: int) -> dict:
    node = {}
    for _ in range(depth - 1):
        node = {"a": node}
    return node


def deeply_nested_json(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_listing_a_missing_item_is_a_404_and_inserts_no_listing(customer):
    response = customer.post("/api/v4/market/listings", {"item_instance_id": 999999, "unit_price": 1}, format="json")

    assert error_of(response, 404)["code"] == "item_not_found"
    assert not MarketListing.objects.exists()


def test_an_item_id_past_bigint_is_a_400(customer):
    response = customer.post("/api/v4/market/listings", {"item_instance_id": 2**63, "unit_price": 1}, format="json")

    assert "item_instance_id" in error_of(response, 400)["details"]


def test_a_cursor_whose_position_is_not_an_id_is_a_400(customer):
    response = customer.get("/api/v4/redemption-orders", {"cursor": "cD16eno="})  # p=zzz

    assert error_of(response, 400)["code"] == "invalid_cursor"


def test_a_price_cursor_whose_position_is_not_a_price_is_a_400(customer):
    response = customer.get("/api/v4/market/listings", {"ordering": "unit_price", "cursor": "cD1hYmMmbz0w"})

    assert error_of(response, 400)["code"] == "invalid_cursor"


def test_a_cursor_that_does_not_decode_is_a_400(customer):
    response = customer.get("/api/v4/items", {"cursor": "%%%not-base64"})

    assert error_of(response, 400)["code"] == "invalid_cursor"


@pytest.mark.parametrize("page_size", ["abc", "0", "201", "-1", "1e3"])
def test_a_page_size_out_of_range_is_a_400(customer, page_size):
    response = customer.get("/api/v4/items", {"page_size": page_size})

    assert "page_size" in error_of(response, 400)["details"]


def test_json_nested_a_thousand_deep_is_a_400_even_unauthenticated(caplog):
    response = as_server().post("/api/v4/auth/token", deeply_nested_json(1000), content_type="application/json")

    assert error_of(response, 400)["code"] == "parse_error"
    assert "Traceback" not in caplog.text


def test_json_nested_past_the_parsers_own_limit_is_a_400():
    response = as_server().post("/api/v4/auth/token", deeply_nested_json(100_000), content_type="application/json")

    assert error_of(response, 400)["code"] == "parse_error"


@pytest.mark.parametrize("length", [121, 128])
def test_an_item_grant_with_a_business_id_of_up_to_128_characters_works(operator, user, length):
    body = {"user_id": user.pk, "item_type": "voucher", "name": "Prize", "business_id": "b" * length}

    first = operator.post("/api/v4/grants/items", body, format="json")
    replay = operator.post("/api/v4/grants/items", body, format="json")

    assert (first.status_code, replay.status_code) == (201, 200)
    assert first.json() == replay.json()


def test_a_business_id_over_128_characters_is_a_400(operator, user):
    body = {"user_id": user.pk, "item_type": "voucher", "name": "Prize", "business_id": "b" * 129}

    assert "business_id" in error_of(operator.post("/api/v4/grants/items", body, format="json"), 400)["details"]


def test_a_lone_surrogate_is_malformed_json(operator, user):
    body = '{"user_id": ' + str(user.pk) + ', "item_type": "\\ud800", "name": "x", "business_id": "s"}'

    response = operator.post("/api/v4/grants/items", body, content_type="application/json")

    assert error_of(response, 400)["code"] == "parse_error"
    assert not ItemInstance.objects.exists()


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "1e999"])
def test_numbers_json_does_not_have_are_malformed(customer, literal):
    body = '{"unit_price": ' + literal + ', "asset_code": "red_shard", "quantity": 1}'

    response = customer.post("/api/v4/market/listings", body, content_type="application/json")

    assert error_of(response, 400)["code"] == "parse_error"


def test_a_body_over_the_limit_is_a_413_in_the_envelope(customer):
    response = customer.post("/api/v4/market/listings", "x" * (5 * 1024 * 1024), content_type="application/json")

    assert error_of(response, 413)["code"] == "payload_too_large"


def test_a_url_over_the_limit_is_a_414_in_the_envelope_even_unauthenticated():
    response = as_server().get("/api/v4/market/prices/red_shard", {"pad": "x" * 4096})

    assert error_of(response, 414)["code"] == "uri_too_long"


def test_a_url_up_to_the_limit_gets_through(customer):
    path = "/api/v4/assets?pad="

    response = customer.get(path + "x" * (4096 - len(path)))

    assert response.status_code == 200


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=100)
def test_the_parser_stops_reading_past_the_limit_when_no_length_was_declared():
    stream = io.BytesIO(json.dumps({"pad": "x" * 200}).encode())

    with pytest.raises(PayloadTooLarge):
        StrictJSONParser().parse(stream)
    assert stream.tell() == 101


@pytest.mark.parametrize("path", ["/api/v4/nothing-here", "/api/v4/items/abc", "/api/v4/assets/", "/api/nothing"])
def test_unrouted_paths_under_the_api_are_a_json_404(customer, path):
    assert error_of(customer.get(path), 404)["code"] == "not_found"


def test_a_wrong_method_is_a_json_405(customer):
    assert error_of(customer.delete("/api/v4/assets"), 405)["code"] == "method_not_allowed"


def test_pages_outside_the_api_keep_their_html_404():
    response = as_server().get("/nothing-here")

    assert response.status_code == 404
    assert not response["Content-Type"].startswith("application/json")


def test_asking_for_html_still_gets_json(customer):
    response = customer.get("/api/v4/assets", headers={"Accept": "text/html"})

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "multipart/form-data; boundary=x"])
def test_forms_are_refused_with_a_415(customer, content_type):
    response = customer.post("/api/v4/market/listings", "unit_price=1", content_type=content_type)

    assert error_of(response, 415)["code"] == "unsupported_media_type"


def test_meta_nested_too_deep_for_the_database_is_a_400_not_a_conflict(operator, user):
    body = {
        "user_id": user.pk,
        "asset_code": "DIAMOND",
        "amount": 5,
        "business_type": "lottery_prize",
        "business_id": "deep-meta",
        "meta": nested(12),
    }

    error = error_of(operator.post("/api/v4/grants/assets", body, format="json"), 400)

    assert "meta" in error["details"]
    assert not JournalEntry.objects.filter(business_id="deep-meta").exists()


def test_item_meta_nested_too_deep_is_a_400_not_a_missing_owner(operator, user):
    body = {"user_id": user.pk, "item_type": "voucher", "name": "x", "business_id": "deep", "meta": nested(12)}

    assert "meta" in error_of(operator.post("/api/v4/grants/items", body, format="json"), 400)["details"]


def test_an_asset_code_in_another_case_is_unknown_even_with_a_balance_of_the_real_one(operator, user, grant):
    grant(user, "DIAMOND", 10)
    body = {"user_id": user.pk, "asset_code": "diamond", "amount": 5, "business_type": "prize", "business_id": "c"}

    response = operator.post("/api/v4/grants/assets", body, format="json")

    assert error_of(response, 400)["code"] == "unknown_asset"
    assert not Balance.objects.filter(asset_id="diamond").exclude(asset_id="DIAMOND").exists()
    assert set(JournalEntry.objects.values_list("legs__asset_id", flat=True)) == {"DIAMOND"}


def test_listing_for_a_price_in_another_case_is_an_unknown_asset(customer, user, grant):
    grant(user, "red_shard", 5)
    body = {"asset_code": "red_shard", "quantity": 1, "unit_price": 1, "price_asset_code": "diamond"}

    assert error_of(customer.post("/api/v4/market/listings", body, format="json"), 400)["code"] == "unknown_asset"


@pytest.mark.parametrize("user_id", [True, "1", 1.0, 2**63])
def test_a_user_id_is_a_json_integer_in_range(operator, user_id):
    body = {"user_id": user_id, "item_type": "voucher", "name": "x", "business_id": f"uid-{user_id!r}"}

    assert "user_id" in error_of(operator.post("/api/v4/grants/items", body, format="json"), 400)["details"]


def test_a_crash_in_a_view_is_a_500_in_the_envelope_without_its_text(customer, user, monkeypatch, caplog):
    from market import selectors

    def boom(**kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(selectors, "listings_for_seller", boom)

    error = error_of(customer.get("/api/v4/market/listings/mine"), 500)

    assert error["code"] == "internal_error"
    assert "secret internals" not in json.dumps(error)
    assert "secret internals" in caplog.text  # logged once, for the operators


def test_an_expired_item_cannot_be_listed(customer, user, give_item):
    from datetime import timedelta

    from django.utils import timezone

    item = give_item(user, expires_at=timezone.now() - timedelta(seconds=1))

    response = customer.post("/api/v4/market/listings", {"item_instance_id": item.pk, "unit_price": 5}, format="json")

    assert error_of(response, 409)["code"] == "item_not_available"


@pytest.mark.parametrize(
    "query",
    [{"price_asset": ""}, {"price_asset": "0"}, {"price_asset": "x" * 33}],
    ids=["blank", "not a code", "too long"],
)
def test_a_price_asset_that_is_no_asset_code_is_a_400(customer, query):
    assert "price_asset" in error_of(customer.get("/api/v4/market/summary", query), 400)["details"]


def test_the_book_of_an_unknown_asset_is_a_documented_404(customer):
    assert error_of(customer.get("/api/v4/market/book", {"asset_code": "NOPE"}), 404)["code"] == "asset_not_found"


@pytest.mark.parametrize("expires_at", ["0001-01-01", "0001-01-01T00:00:00", "9999-12-31T23:59:59-08:00"])
def test_an_item_expiry_that_has_no_utc_time_is_a_400(operator, user, expires_at):
    body = {"user_id": user.pk, "item_type": "voucher", "name": "Prize", "business_id": "b1", "expires_at": expires_at}

    response = operator.post("/api/v4/grants/items", body, format="json")

    assert error_of(response, 400)["details"] == {"expires_at": ["Datetime value out of range."]}
    assert not ItemInstance.objects.exists()
