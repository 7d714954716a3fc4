import uuid

import pytest
from django.test import override_settings

from items.models import ItemStatus
from redemption.codes import code_generate
from redemption.models import RedemptionOrder

pytestmark = pytest.mark.django_db

LOOKUP = "/api/v4/merchant/redemptions/lookup"
FULFIL = "/api/v4/merchant/redemptions/fulfil"


def create_url(item) -> str:
    return f"/api/v4/items/{item.pk}/redemption-orders"


def error_code(response) -> str:
    return response.json()["error"]["code"]


def test_create_returns_the_code_once_with_its_qr_code(api, voucher):
    response = api.post(create_url(voucher))

    body = response.json()
    assert response.status_code == 201
    assert set(body) == {"order_id", "code", "qr_svg", "status", "expires_at"}
    assert body["status"] == "pending"
    assert body["qr_svg"].startswith("<svg")
    assert response["Cache-Control"] == "no-store"
    assert RedemptionOrder.objects.get().order_id == uuid.UUID(body["order_id"])


def test_create_requires_authentication(client_for, voucher):
    response = client_for(None).post(create_url(voucher))

    assert response.status_code == 401


def test_another_users_item_is_a_404(client_for, other_user, voucher):
    response = client_for(other_user).post(create_url(voucher))

    assert response.status_code == 404
    assert error_code(response) == "item_not_found"


def test_equipment_is_not_redeemable(api, user, give_item):
    response = api.post(create_url(give_item(user, item_type="equipment")))

    assert response.status_code == 409
    assert error_code(response) == "item_not_redeemable"


def test_the_list_shows_the_callers_orders_without_codes(api, client_for, user, other_user, voucher, give_item):
    code = api.post(create_url(voucher)).json()["code"]
    client_for(other_user).post(create_url(give_item(other_user)))

    response = api.get("/api/v4/redemption-orders")

    results = response.json()["results"]
    assert response.status_code == 200
    assert len(results) == 1
    assert results[0]["item_instance_id"] == voucher.pk
    assert results[0]["item_name"] == voucher.name
    assert results[0]["status"] == "pending"
    assert "code" not in results[0]
    assert code not in response.content.decode()


def test_cancel_unlocks_the_item(api, voucher):
    order_id = api.post(create_url(voucher)).json()["order_id"]

    response = api.post(f"/api/v4/redemption-orders/{order_id}/cancel")

    voucher.refresh_from_db()
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert voucher.status == ItemStatus.AVAILABLE


def test_another_users_order_cannot_be_cancelled_and_is_a_404(api, client_for, other_user, voucher):
    order_id = api.post(create_url(voucher)).json()["order_id"]

    response = client_for(other_user).post(f"/api/v4/redemption-orders/{order_id}/cancel")

    assert response.status_code == 404
    assert error_code(response) == "order_not_found"
    assert RedemptionOrder.objects.get().status == "pending"


def test_cancelling_twice_is_a_409(api, voucher):
    order_id = api.post(create_url(voucher)).json()["order_id"]
    api.post(f"/api/v4/redemption-orders/{order_id}/cancel")

    response = api.post(f"/api/v4/redemption-orders/{order_id}/cancel")

    assert response.status_code == 409
    assert error_code(response) == "order_not_pending"


def test_lookup_then_fulfil(api, client_for, voucher, staff, merchant, user):
    code = api.post(create_url(voucher)).json()["code"]
    merchant_api = client_for(staff)

    looked_up = merchant_api.post(LOOKUP, {"code": code.lower()}, format="json")
    fulfilled = merchant_api.post(FULFIL, {"code": code}, format="json")

    assert looked_up.status_code == 200
    body = looked_up.json()
    assert body["item"] == {
        "item_instance_id": voucher.pk,
        "name": voucher.name,
        "item_type": "voucher",
        "status": "locked",
        "meta": voucher.meta,
        "owner": f"{user.username[0]}****{user.username[-1]}",
    }
    assert body["order"]["status"] == "pending"
    assert body["merchant"] == {"code": merchant.code, "name": merchant.name}
    assert fulfilled.status_code == 200
    assert fulfilled.json()["order"]["status"] == "fulfilled"
    assert fulfilled.json()["item"]["status"] == "used"


def test_a_second_fulfil_is_a_409_saying_when_and_where(api, client_for, voucher, staff, merchant, staff_for):
    code = api.post(create_url(voucher)).json()["code"]
    client_for(staff).post(FULFIL, {"code": code}, format="json")

    response = client_for(staff_for(merchant)).post(FULFIL, {"code": code}, format="json")

    assert response.status_code == 409
    assert error_code(response) == "code_already_used"
    assert response.json()["error"]["details"]["merchant"] == merchant.name


@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [("not a code", 400, "invalid_code_format"), ("2345-6789-ABCD", 400, "code_typo"), (None, 404, "code_not_found")],
)
def test_refusals_have_stable_codes(client_for, staff, code, status, expected):
    response = client_for(staff).post(FULFIL, {"code": code or code_generate()}, format="json")

    assert response.status_code == status
    assert error_code(response) == expected


def test_a_missing_code_is_invalid_input(client_for, staff):
    response = client_for(staff).post(LOOKUP, {}, format="json")

    assert response.status_code == 400
    assert error_code(response) == "invalid_input"


def test_merchant_endpoints_are_for_merchant_staff_only(api, voucher):
    code = api.post(create_url(voucher)).json()["code"]

    response = api.post(FULFIL, {"code": code}, format="json")

    assert response.status_code == 403
    assert error_code(response) == "not_merchant_staff"


def test_a_restricted_item_at_another_merchant_is_a_403(
    api, client_for, user, staff, other_merchant, give_item, staff_for
):
    code = api.post(create_url(give_item(user, merchant_code=other_merchant.code))).json()["code"]

    refused = client_for(staff).post(FULFIL, {"code": code}, format="json")
    accepted = client_for(staff_for(other_merchant)).post(FULFIL, {"code": code}, format="json")

    assert refused.status_code == 403
    assert error_code(refused) == "wrong_merchant"
    assert accepted.status_code == 200


@override_settings(REDEMPTION_FAILURE_LIMIT=2)
def test_too_many_failures_are_a_429(api, client_for, voucher, staff):
    code = api.post(create_url(voucher)).json()["code"]
    merchant_api = client_for(staff)
    for _ in range(2):
        merchant_api.post(LOOKUP, {"code": "2345-6789-ABCD"}, format="json")

    response = merchant_api.post(FULFIL, {"code": code}, format="json")

    assert response.status_code == 429
    assert error_code(response) == "too_many_attempts"
    assert response.json()["error"]["details"]["retry_after_seconds"] > 0


def test_the_endpoints_are_in_the_openapi_schema(client):
    schema = client.get("/api/schema/").content.decode()

    for path in ("/api/v4/items/{item_id}/redemption-orders", LOOKUP, FULFIL, "/api/v4/redemption-orders"):
        assert path in schema


def test_the_list_takes_one_query_whatever_its_length(api, user, django_assert_num_queries, give_item):
    for _ in range(7):
        api.post(create_url(give_item(user)))

    with django_assert_num_queries(1):
        response = api.get("/api/v4/redemption-orders", {"page_size": 3})
    with django_assert_num_queries(1):
        longer = api.get("/api/v4/redemption-orders")

    assert len(response.json()["results"]) == 3
    assert len(longer.json()["results"]) == 7
    assert longer.json()["results"][0]["merchant"] is None
