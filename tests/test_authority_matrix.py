"""Who may call what (SPEC §10): every API route and method by every role, from the URL configuration.

A route missing from MATRIX fails `test_every_api_route_is_in_the_matrix`, so a new endpoint
cannot ship without saying who may call it. Each refused write is checked to have changed nothing.
"""

from dataclasses import dataclass

import pytest
from django.db import transaction
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from core.services import issuer_key_create
from gifts.models import Gift
from items.models import ItemInstance
from ledger.models import Balance, JournalEntry
from market.buy_order_services import buy_order_place
from market.models import BuyOrder, MarketListing
from market.services import listing_create
from redemption.models import RedemptionOrder
from redemption.services import merchant_get_or_create, merchant_staff_add, order_create
from tests.factories import PASSWORD, IssuerFactory, OperatorFactory, StaffFactory, UserFactory
from tests.test_api_contract import api_routes

ROLES = (
    "anonymous",
    "owner",
    "other_customer",
    "merchant_own",
    "merchant_other",
    "operator",
    "issuer",
    "superuser",
)


@dataclass
class World:
    users: dict
    item: ItemInstance  # the owner's voucher, redeemable at merchant M1 only
    listing: MarketListing  # the owner's red_shard on sale
    buy_order: BuyOrder  # the owner's bid for blue_shard
    order: RedemptionOrder  # a pending order of another of the owner's vouchers
    code: str
    issuer_key: str


@pytest.fixture
def world(db, give_item, grant) -> World:
    users = {
        "owner": UserFactory(),
        "other_customer": UserFactory(),
        "merchant_own": StaffFactory(),
        "merchant_other": StaffFactory(),
        "operator": OperatorFactory(),
        "issuer": IssuerFactory(),
        "superuser": StaffFactory(is_superuser=True),
    }
    for name, merchant_code in (("merchant_own", "M1"), ("merchant_other", "M2")):
        merchant = merchant_get_or_create(code=merchant_code, name=f"Merchant {merchant_code}")
        merchant_staff_add(merchant_id=merchant.pk, user_id=users[name].pk)
    owner = users["owner"]
    grant(owner, "red_shard", 10)
    grant(owner, "DIAMOND", 100)
    grant(users["other_customer"], "DIAMOND", 100)
    listing = listing_create(seller_id=owner.pk, asset_code="red_shard", quantity=5, unit_price=3)
    bid = buy_order_place(buyer_id=owner.pk, asset_code="blue_shard", quantity=2, max_unit_price=5, idempotency_key="w")
    issued = order_create(item_id=give_item(owner, merchant_code="M1").pk, user_id=owner.pk)
    _, key = issuer_key_create(issuer_id=users["issuer"].pk, name="matrix")
    return World(
        users=users,
        item=give_item(owner, merchant_code="M1"),
        listing=listing,
        buy_order=bid.order,
        order=issued.order,
        code=issued.code,
        issuer_key=key,
    )


def grant_assets(w, user):
    body = {"user_id": w.users["owner"].pk, "asset_code": "DIAMOND", "amount": 5}
    return {**body, "business_type": "lottery_prize", "business_id": "matrix-1", "meta": {}}


def grant_items(w, user):
    return {"user_id": w.users["owner"].pk, "item_type": "voucher", "name": "Prize", "business_id": "matrix-1"}


def gift_body(w, user):
    """The owner's voucher to the other customer (or, for the other customer, to the owner): only its owner may."""
    to = w.users["owner"] if user == w.users["other_customer"] else w.users["other_customer"]
    return {"to_username": to.username, "item_instance_id": w.item.pk, "message": "matrix"}


def token_body(w, user):
    return {"username": user.username, "password": PASSWORD} if user else {}


def refresh_body(w, user):
    return {"refresh": str(RefreshToken.for_user(user))} if user else {}


# (method, route) -> (url of the world, body for the caller, {role: status}); "*" is every other role.
MATRIX = {
    ("POST", "/api/v4/auth/token"): (
        lambda w: "/api/v4/auth/token",
        token_body,
        {"anonymous": 400, "issuer": 401, "*": 200},
    ),
    ("POST", "/api/v4/auth/token/refresh"): (
        lambda w: "/api/v4/auth/token/refresh",
        refresh_body,
        {"anonymous": 400, "*": 200},
    ),
    ("GET", "/api/v4/assets"): (lambda w: "/api/v4/assets", None, {"anonymous": 401, "*": 200}),
    ("GET", "/api/v4/assets/transactions"): (
        lambda w: "/api/v4/assets/transactions",
        None,
        {"anonymous": 401, "*": 200},
    ),
    ("POST", "/api/v4/grants/assets"): (
        lambda w: "/api/v4/grants/assets",
        grant_assets,
        {"anonymous": 401, "operator": 201, "issuer": 201, "superuser": 201, "*": 403},
    ),
    ("GET", "/api/v4/backpack"): (lambda w: "/api/v4/backpack", None, {"anonymous": 401, "*": 200}),
    ("GET", "/api/v4/items"): (lambda w: "/api/v4/items", None, {"anonymous": 401, "*": 200}),
    ("GET", "/api/v4/items/{item_id}"): (
        lambda w: f"/api/v4/items/{w.item.pk}",
        None,
        {"anonymous": 401, "owner": 200, "*": 404},
    ),
    ("GET", "/api/v4/items/{item_id}/events"): (
        lambda w: f"/api/v4/items/{w.item.pk}/events",
        None,
        {"anonymous": 401, "owner": 200, "*": 404},
    ),
    ("POST", "/api/v4/grants/items"): (
        lambda w: "/api/v4/grants/items",
        grant_items,
        {"anonymous": 401, "operator": 201, "issuer": 201, "superuser": 201, "*": 403},
    ),
    ("GET", "/api/v4/market/listings"): (lambda w: "/api/v4/market/listings", None, {"anonymous": 401, "*": 200}),
    ("POST", "/api/v4/market/listings"): (
        lambda w: "/api/v4/market/listings",
        lambda w, user: {"asset_code": "red_shard", "quantity": 1, "unit_price": 2},
        # Only the owner has red_shard to sell: the others are refused for want of it.
        {"anonymous": 401, "owner": 201, "*": 409},
    ),
    ("GET", "/api/v4/market/listings/mine"): (
        lambda w: "/api/v4/market/listings/mine",
        None,
        {"anonymous": 401, "*": 200},
    ),
    ("GET", "/api/v4/market/listings/{listing_id}"): (
        lambda w: f"/api/v4/market/listings/{w.listing.pk}",
        None,
        {"anonymous": 401, "*": 200},
    ),
    ("POST", "/api/v4/market/listings/{listing_id}/purchase"): (
        lambda w: f"/api/v4/market/listings/{w.listing.pk}/purchase",
        lambda w, user: {"quantity": 1},
        # The seller cannot buy their own; only the other customer has DIAMOND to pay with.
        {"anonymous": 401, "other_customer": 201, "*": 409},
    ),
    ("POST", "/api/v4/market/listings/{listing_id}/cancel"): (
        lambda w: f"/api/v4/market/listings/{w.listing.pk}/cancel",
        None,
        {"anonymous": 401, "owner": 200, "operator": 200, "superuser": 200, "*": 404},
    ),
    ("POST", "/api/v4/market/buy-orders"): (
        lambda w: "/api/v4/market/buy-orders",
        lambda w, user: {"asset_code": "green_shard", "quantity": 1, "max_unit_price": 2},
        # Only the two customers have DIAMOND to freeze: the others are refused for want of it.
        {"anonymous": 401, "owner": 201, "other_customer": 201, "*": 409},
    ),
    ("GET", "/api/v4/market/buy-orders/mine"): (
        lambda w: "/api/v4/market/buy-orders/mine",
        None,
        {"anonymous": 401, "*": 200},
    ),
    ("GET", "/api/v4/market/buy-orders/{buy_order_id}"): (
        lambda w: f"/api/v4/market/buy-orders/{w.buy_order.pk}",
        None,
        {"anonymous": 401, "owner": 200, "*": 404},
    ),
    ("POST", "/api/v4/market/buy-orders/{buy_order_id}/cancel"): (
        lambda w: f"/api/v4/market/buy-orders/{w.buy_order.pk}/cancel",
        None,
        {"anonymous": 401, "owner": 200, "operator": 200, "superuser": 200, "*": 404},
    ),
    ("GET", "/api/v4/market/trades"): (lambda w: "/api/v4/market/trades", None, {"anonymous": 401, "*": 200}),
    ("GET", "/api/v4/market/prices/{asset_code}"): (
        lambda w: "/api/v4/market/prices/red_shard",
        None,
        {"anonymous": 401, "*": 200},
    ),
    ("GET", "/api/v4/market/summary"): (lambda w: "/api/v4/market/summary", None, {"anonymous": 401, "*": 200}),
    ("GET", "/api/v4/market/book"): (
        lambda w: "/api/v4/market/book?asset_code=red_shard",
        None,
        {"anonymous": 401, "*": 200},
    ),
    ("POST", "/api/v4/items/{item_id}/redemption-orders"): (
        lambda w: f"/api/v4/items/{w.item.pk}/redemption-orders",
        None,
        {"anonymous": 401, "owner": 201, "*": 404},
    ),
    ("GET", "/api/v4/redemption-orders"): (lambda w: "/api/v4/redemption-orders", None, {"anonymous": 401, "*": 200}),
    ("POST", "/api/v4/redemption-orders/{order_id}/cancel"): (
        lambda w: f"/api/v4/redemption-orders/{w.order.order_id}/cancel",
        None,
        {"anonymous": 401, "owner": 200, "*": 404},
    ),
    ("POST", "/api/v4/merchant/redemptions/lookup"): (
        lambda w: "/api/v4/merchant/redemptions/lookup",
        lambda w, user: {"code": w.code},
        {"anonymous": 401, "merchant_own": 200, "*": 403},
    ),
    ("GET", "/api/v4/gifts"): (lambda w: "/api/v4/gifts", None, {"anonymous": 401, "*": 200}),
    ("POST", "/api/v4/gifts"): (
        lambda w: "/api/v4/gifts",
        gift_body,
        {"anonymous": 401, "owner": 201, "*": 404},
    ),
    ("GET", "/api/v4/activity"): (lambda w: "/api/v4/activity", None, {"anonymous": 401, "*": 200}),
    ("POST", "/api/v4/merchant/redemptions/fulfil"): (
        lambda w: "/api/v4/merchant/redemptions/fulfil",
        lambda w, user: {"code": w.code},
        {"anonymous": 401, "merchant_own": 200, "*": 403},
    ),
}


def routes_and_methods() -> set[tuple[str, str]]:
    """(method, path) of every route under /api/v4/, from the URL configuration."""
    return {(method, route["path"]) for route in api_routes() for method in route["methods"]}


def test_every_api_route_is_in_the_matrix():
    assert routes_and_methods() == set(MATRIX)


def state() -> tuple:
    """What a refused write must leave exactly as it was."""
    return (
        sorted(Balance.objects.values_list("account_id", "asset_id", "available_amount", "frozen_amount")),
        sorted(ItemInstance.objects.values_list("pk", "owner_id", "status", "locked_by")),
        sorted(MarketListing.objects.values_list("pk", "status", "quantity_remaining")),
        sorted(BuyOrder.objects.values_list("pk", "status", "quantity_remaining")),
        sorted(RedemptionOrder.objects.values_list("pk", "status")),
        JournalEntry.objects.count(),
        Gift.objects.count(),
    )


def client_as(world: World, role: str) -> APIClient:
    client = APIClient()
    if role == "issuer":
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {world.issuer_key}")
    elif role != "anonymous":
        client.force_authenticate(world.users[role])
    return client


def test_every_route_answers_each_role_as_the_matrix_says(world):
    """All routes x roles against one world, each call in a savepoint rolled back after it."""
    wrong = []
    for (method, route), (url, body, expected) in sorted(MATRIX.items()):
        for role in ROLES:
            status = expected.get(role, expected["*"])
            # Every creating POST may carry a retry key (SPEC §8); gifts require one.
            headers = {"Idempotency-Key": "matrix-1"} if method == "POST" else {}
            with transaction.atomic():
                before = state()
                response = getattr(client_as(world, role), method.lower())(
                    url(world), body(world, world.users.get(role)) if body else None, format="json", headers=headers
                )
                if response.status_code != status:
                    wrong.append(f"{method} {route} as {role}: {response.status_code}, expected {status}")
                elif method == "POST" and status >= 400 and state() != before:
                    wrong.append(f"{method} {route} as {role}: refused with {status} but changed something")
                transaction.set_rollback(True)
    assert not wrong, "\n".join(wrong)
