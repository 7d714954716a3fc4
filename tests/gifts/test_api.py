import pytest

from gifts.models import Gift
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

GIFTS = "/api/v4/gifts"


@pytest.fixture
def sender(user, grant):
    grant(user, "red_shard", 100)
    return user


def post(api, body, key="gift-1"):
    headers = {"Idempotency-Key": key} if key is not None else {}
    return api.post(GIFTS, body, format="json", headers=headers)


def error_code(response) -> str:
    return response.json()["error"]["code"]


def test_give_an_item(api, sender, other_user, give_item):
    item = give_item(sender, name="Dumplings")

    response = post(api, {"to_username": other_user.username, "item_instance_id": item.pk, "message": "Enjoy"})

    assert response.status_code == 201, response.content
    body = response.json()
    assert body == {
        "id": body["id"],
        "direction": "sent",
        "sender": sender.username,
        "recipient": other_user.username,
        "item_instance_id": item.pk,
        "item_type": "voucher",
        "item_name": "Dumplings",
        "asset_code": None,
        "amount": None,
        "message": "Enjoy",
        "created_at": body["created_at"],
    }


def test_give_an_amount_then_replay_it(api, sender, other_user, available):
    body = {"to_username": other_user.username, "asset_code": "red_shard", "amount": 7}

    first = post(api, body)
    again = post(api, body)

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert available(other_user, "red_shard") == 7


def test_the_same_key_with_another_body_is_409(api, sender, other_user):
    post(api, {"to_username": other_user.username, "asset_code": "red_shard", "amount": 7})

    response = post(api, {"to_username": other_user.username, "asset_code": "red_shard", "amount": 8})

    assert response.status_code == 409
    assert error_code(response) == "idempotency_conflict"


@pytest.mark.parametrize("key", [None, "", "x" * 65, "bad key"])
def test_an_idempotency_key_is_required(api, sender, other_user, key):
    response = post(api, {"to_username": other_user.username, "asset_code": "red_shard", "amount": 1}, key=key)

    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["error"]["details"]
    assert not Gift.objects.exists()


def test_unknown_and_inactive_recipients_get_the_same_404(api, sender):
    inactive = UserFactory(is_active=False)

    unknown = post(api, {"to_username": "nobody-at-all", "asset_code": "red_shard", "amount": 1}, key="a")
    dormant = post(api, {"to_username": inactive.username, "asset_code": "red_shard", "amount": 1}, key="b")

    assert unknown.status_code == dormant.status_code == 404
    assert (
        unknown.json()
        == dormant.json()
        == {
            "error": {
                "code": "recipient_not_found",
                "message": "This gift cannot be sent to that recipient.",
                "details": {},
            }
        }
    )


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"asset_code": "red_shard", "amount": 1}, 400, "invalid_input"),
        ({"to_username": "x", "asset_code": "red_shard", "amount": "1"}, 400, "invalid_input"),
        ({"to_username": "x", "asset_code": "red_shard", "amount": -1}, 400, "invalid_input"),
        ({"to_username": "x", "asset_code": "red_shard"}, 400, "invalid_gift"),
        ({"to_username": "x", "item_instance_id": 999999}, 404, "item_not_found"),
        ({"to_username": "x", "asset_code": "DIAMOND", "amount": 1}, 409, "asset_not_tradable"),
    ],
)
def test_refusals(api, sender, body, status, code):
    response = post(api, body)

    assert (response.status_code, error_code(response)) == (status, code)


def test_no_gift_to_oneself(api, sender):
    response = post(api, {"to_username": sender.username, "asset_code": "red_shard", "amount": 1})

    assert (response.status_code, error_code(response)) == (409, "cannot_gift_to_self")


def test_list_by_direction(client_for, sender, other_user, grant):
    grant(other_user, "red_shard", 10)
    post(client_for(sender), {"to_username": other_user.username, "asset_code": "red_shard", "amount": 1})
    post(client_for(other_user), {"to_username": sender.username, "asset_code": "red_shard", "amount": 2})
    post(client_for(other_user), {"to_username": UserFactory().username, "asset_code": "red_shard", "amount": 3}, "2")
    api = client_for(sender)

    everything = api.get(GIFTS).json()["results"]
    sent = api.get(GIFTS, {"direction": "sent"}).json()["results"]
    received = api.get(GIFTS, {"direction": "received"}).json()["results"]

    assert [(g["direction"], g["amount"]) for g in everything] == [("received", 2), ("sent", 1)]
    assert [g["amount"] for g in sent] == [1]
    assert [(g["amount"], g["sender"]) for g in received] == [(2, other_user.username)]


def test_an_unknown_direction_is_400(api):
    response = api.get(GIFTS, {"direction": "sideways"})

    assert (response.status_code, error_code(response)) == (400, "invalid_input")
