from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from items.models import ItemStatus
from items.services import item_lock
from ledger.services import balance_change
from tests.factories import IssuerFactory, ItemFactory

pytestmark = pytest.mark.django_db

BACKPACK_ITEM_FIELDS = {
    "item_instance_id",
    "item_type",
    "name",
    "status",
    "meta",
    "locked_by_order_id",
    "locked_at",
    "expires_at",
    "created_at",
    "updated_at",
}


def test_items_list_is_the_callers_and_filters(api, user, other_user):
    voucher = ItemFactory(owner=user, item_type="voucher")
    ItemFactory(owner=user, item_type="product", status=ItemStatus.USED)
    ItemFactory(owner=other_user)

    everything = api.get("/api/v4/items").json()["results"]
    vouchers = api.get("/api/v4/items", {"item_type": "voucher"}).json()["results"]
    used = api.get("/api/v4/items", {"status": "used"}).json()["results"]

    assert len(everything) == 2
    assert [i["item_instance_id"] for i in vouchers] == [voucher.pk]
    assert [i["item_type"] for i in used] == ["product"]


def test_items_list_refuses_an_unknown_filter_value(api):
    response = api.get("/api/v4/items", {"status": "lost"})

    assert response.status_code == 400
    assert "status" in response.json()["error"]["details"]


def test_another_users_item_is_a_404(api, other_user):
    theirs = ItemFactory(owner=other_user)

    detail = api.get(f"/api/v4/items/{theirs.pk}")
    events = api.get(f"/api/v4/items/{theirs.pk}/events")

    assert detail.status_code == events.status_code == 404
    assert detail.json()["error"]["code"] == "item_not_found"


def test_item_detail_and_history(api, user):
    item = ItemFactory(owner=user)
    item_lock(item_id=item.pk, locked_by="market:1")

    detail = api.get(f"/api/v4/items/{item.pk}").json()
    events = api.get(f"/api/v4/items/{item.pk}/events").json()["results"]

    assert (detail["status"], detail["locked_by"]) == ("locked", "market:1")
    assert [(e["from_status"], e["to_status"]) for e in events] == [("available", "locked")]


def test_backpack_shape_and_contents(api, user, other_user, grant):
    grant(user, "DIAMOND", 50)
    grant(user, "red_shard", 5)
    grant(user, "blue_shard", 2)
    balance_change(user_id=user.pk, asset_code="blue_shard", delta=-2, business_type="spend", business_id="b")
    older = ItemFactory(owner=user)
    newer = ItemFactory(owner=user, item_type="equipment")
    item_lock(item_id=older.pk, locked_by="redemption:abc")
    for status in (ItemStatus.USED, ItemStatus.EXPIRED, ItemStatus.TRANSFERRED):
        ItemFactory(owner=user, status=status)
    ItemFactory(owner=other_user)
    grant(other_user, "green_shard", 3)

    body = api.get("/api/v4/backpack").json()

    assert [a["asset_code"] for a in body["assets"]] == ["DIAMOND", "red_shard"]
    assert body["assets"][0] == {
        "asset_code": "DIAMOND",
        "name": "钻石",
        "icon": "💎",
        "type": "currency",
        "available_amount": 50,
        "frozen_amount": 0,
        "total_amount": 50,
    }
    assert [i["item_instance_id"] for i in body["items"]] == [newer.pk, older.pk]
    assert set(body["items"][0]) == BACKPACK_ITEM_FIELDS
    assert body["items"][0]["meta"] == {"value": 2000}
    assert body["items"][0]["created_at"].endswith("Z")
    assert body["items"][1]["status"] == "locked"
    assert body["items"][1]["locked_by_order_id"] == "redemption:abc"


def test_backpack_filters(api, user):
    voucher = ItemFactory(owner=user, item_type="voucher")
    card = ItemFactory(owner=user, item_type="card")
    item_lock(item_id=card.pk, locked_by="market:1")

    vouchers = api.get("/api/v4/backpack", {"item_type": "voucher"}).json()["items"]
    locked = api.get("/api/v4/backpack", {"status": "locked"}).json()["items"]
    refused = api.get("/api/v4/backpack", {"status": "used"})

    assert [i["item_instance_id"] for i in vouchers] == [voucher.pk]
    assert [i["item_instance_id"] for i in locked] == [card.pk]
    assert refused.status_code == 400


def test_backpack_needs_authentication(client_for):
    assert client_for(None).get("/api/v4/backpack").status_code == 401


@pytest.mark.parametrize("item_count", [1, 60])
def test_backpack_query_count_does_not_grow_with_items(api, user, item_count, grant):
    grant(user, "DIAMOND", 5)
    ItemFactory.create_batch(item_count, owner=user)

    with CaptureQueriesContext(connection) as queries:
        response = api.get("/api/v4/backpack")

    assert len(response.json()["items"]) == item_count
    assert len(queries) == 4  # the version and the catalog (the ETag), the balances, the items


def item_grant_body(user, **overrides):
    return {
        "user_id": user.pk,
        "item_type": "voucher",
        "name": "Free noodles",
        "meta": {"value": 1500},
        "expires_at": (timezone.now() + timedelta(days=30)).isoformat(),
        "merchant_code": "M1",
        "business_id": "draw-9",
        **overrides,
    }


def test_item_grant_creates_then_replays(client_for, user):
    staff = client_for(IssuerFactory())
    body = item_grant_body(user)

    created = staff.post("/api/v4/grants/items", body, format="json")
    replayed = staff.post("/api/v4/grants/items", body, format="json")
    changed = staff.post("/api/v4/grants/items", {**body, "name": "Other"}, format="json")

    assert created.status_code == 201
    assert replayed.status_code == 200
    assert replayed.json() == created.json()
    assert created.json()["merchant_code"] == "M1"
    assert changed.status_code == 409
    assert changed.json()["error"]["code"] == "idempotency_conflict"


def test_item_grant_is_refused_to_customers(api, user):
    response = api.post("/api/v4/grants/items", item_grant_body(user), format="json")

    assert response.status_code == 403


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"item_type": "spaceship"}, "item_type"),
        ({"name": ""}, "name"),
        ({"user_id": 10**9}, "user_id"),
        ({"expires_at": "soon"}, "expires_at"),
        ({"meta": [1, 2]}, "meta"),
    ],
)
def test_item_grant_bad_input_is_a_400(client_for, user, change, field):
    response = client_for(IssuerFactory()).post("/api/v4/grants/items", item_grant_body(user, **change), format="json")

    assert response.status_code == 400
    assert field in response.json()["error"]["details"]
