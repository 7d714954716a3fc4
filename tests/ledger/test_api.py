import pytest
from django.contrib.auth.models import Permission

from ledger.models import JournalEntry
from tests.factories import IssuerFactory, UserFactory

pytestmark = pytest.mark.django_db

GRANT = "/api/v4/grants/assets"


def grant_body(user, **overrides):
    return {
        "user_id": user.pk,
        "asset_code": "DIAMOND",
        "amount": 100,
        "business_type": "lottery",
        "business_id": "draw-1",
        "meta": {"draw": 1},
        **overrides,
    }


def test_assets_require_authentication(client_for):
    response = client_for(None).get("/api/v4/assets")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_assets_show_only_the_callers_non_zero_balances(api, user, other_user, grant):
    grant(user, "DIAMOND", 120)
    grant(user, "red_shard", 3)
    grant(other_user, "blue_shard", 9)

    response = api.get("/api/v4/assets")

    assert response.status_code == 200
    assert response.json() == {
        "assets": [
            {
                "asset_code": "DIAMOND",
                "name": "钻石",
                "icon": "💎",
                "type": "currency",
                "available_amount": 120,
                "frozen_amount": 0,
                "total_amount": 120,
            },
            {
                "asset_code": "red_shard",
                "name": "红色碎片",
                "icon": "🔴",
                "type": "material",
                "available_amount": 3,
                "frozen_amount": 0,
                "total_amount": 3,
            },
        ]
    }


def test_transactions_are_the_callers_legs_newest_first_and_filterable(api, user, other_user, grant):
    grant(user, "DIAMOND", 1)
    grant(user, "red_shard", 2)
    grant(user, "DIAMOND", 3)
    grant(other_user, "DIAMOND", 4)

    everything = api.get("/api/v4/assets/transactions").json()
    diamonds = api.get("/api/v4/assets/transactions", {"asset_code": "DIAMOND"}).json()

    assert [leg["delta_available"] for leg in everything["results"]] == [3, 2, 1]
    assert [leg["delta_available"] for leg in diamonds["results"]] == [3, 1]
    assert diamonds["results"][0]["available_after"] == 4
    assert diamonds["results"][0]["business_type"] == "test_grant"


def test_transactions_paginate_with_a_cursor(api, user, grant):
    for amount in range(1, 6):
        grant(user, "DIAMOND", amount)

    first = api.get("/api/v4/assets/transactions", {"page_size": 2}).json()
    second = api.get(first["next"]).json()

    assert [leg["delta_available"] for leg in first["results"]] == [5, 4]
    assert [leg["delta_available"] for leg in second["results"]] == [3, 2]


def test_issuer_grant_creates_then_replays_with_the_same_body(client_for, user):
    staff = client_for(IssuerFactory())

    created = staff.post(GRANT, grant_body(user), format="json")
    replayed = staff.post(GRANT, grant_body(user), format="json")

    assert created.status_code == 201
    assert replayed.status_code == 200
    assert replayed.json() == created.json()
    assert created.json()["available_after"] == 100
    assert JournalEntry.objects.filter(business_type="grant:lottery").count() == 1


def test_grant_replay_with_a_different_body_is_a_conflict(client_for, user):
    staff = client_for(IssuerFactory())
    staff.post(GRANT, grant_body(user), format="json")

    response = staff.post(GRANT, grant_body(user, amount=101), format="json")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "idempotency_conflict"


def test_grant_is_refused_to_customers(api, user):
    response = api.post(GRANT, grant_body(user), format="json")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


def test_grant_is_allowed_with_the_dedicated_permission(client_for, user):
    service = UserFactory()
    service.user_permissions.add(Permission.objects.get(codename="grant_assets"))

    response = client_for(service).post(GRANT, grant_body(user), format="json")

    assert response.status_code == 201


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"amount": -5}, "amount"),
        ({"amount": 0}, "amount"),
        ({"amount": 1.5}, "amount"),
        ({"amount": "100"}, "amount"),
        ({"amount": 10**16}, "amount"),
        ({"user_id": 999_999_999}, "user_id"),
        ({"business_type": "Bad Type!"}, "business_type"),
        ({"business_id": ""}, "business_id"),
    ],
)
def test_grant_bad_input_is_a_400_naming_the_field(client_for, user, change, field):
    response = client_for(IssuerFactory()).post(GRANT, grant_body(user, **change), format="json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_input"
    assert field in response.json()["error"]["details"]


@pytest.mark.parametrize("missing", ["user_id", "asset_code", "amount", "business_type", "business_id"])
def test_grant_missing_field_is_a_400(client_for, user, missing):
    body = grant_body(user)
    del body[missing]

    response = client_for(IssuerFactory()).post(GRANT, body, format="json")

    assert response.status_code == 400
    assert missing in response.json()["error"]["details"]


def test_grant_of_an_unknown_asset_is_a_400(client_for, user):
    response = client_for(IssuerFactory()).post(GRANT, grant_body(user, asset_code="GOLD"), format="json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "unknown_asset"


def test_malformed_json_is_a_400(client_for, user):
    response = client_for(IssuerFactory()).post(GRANT, "{not json", content_type="application/json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parse_error"
