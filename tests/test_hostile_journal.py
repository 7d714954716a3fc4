"""Hostile input, second pass (issue 20, findings 1, 2, 3, 6 and gifts to a service account).

The journal's business keys have owners; sweeps go on past a bad row; the feed reads gifts and trades from
their own rows; face values are validated; service accounts receive no gifts. Each test is one reproduction.
An "old row" is planted through the services as an attacker's grant could write it before this change.
"""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from core.models import IssuerKey
from gifts.models import Gift
from gifts.services import gift_send
from items.models import ItemInstance, ItemStatus
from items.services import items_expire
from ledger.exceptions import IdempotencyConflict, InvalidEntry
from ledger.models import JournalEntry
from ledger.services import asset_grant, balance_change
from legacy_inventory.models import MigrationRecord, Outcome
from market.models import ListingStatus, MarketListing
from market.services import listing_cancel, listing_create, listing_purchase, listings_expire
from operations.models import Alert
from redemption.models import OrderStatus, RedemptionOrder
from redemption.services import order_create, order_fulfil, orders_expire
from tests.factories import (
    PASSWORD,
    IssuerFactory,
    LegacyInventoryFactory,
    MerchantFactory,
    OperatorFactory,
    StaffFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

GRANT = "/api/v4/grants/assets"
ITEM_GRANT = "/api/v4/grants/items"


def as_server(user) -> APIClient:
    client = APIClient(raise_request_exception=False)
    client.force_authenticate(user)
    return client


def grant_body(user, **overrides) -> dict:
    return {"user_id": user.pk, "asset_code": "red_shard", "amount": 1, "business_id": "1", **overrides}


@pytest.fixture
def old_grant(issuer):
    def old_grant(user, *, business_type: str, business_id: str, meta: dict | None = None, amount: int = 1):
        """An entry as a grant could write it before grants had their own namespace: the type as given."""
        return balance_change(
            user_id=user.pk,
            asset_code="red_shard",
            delta=amount,
            business_type=business_type,
            business_id=business_id,
            meta=meta,
            actor_id=issuer.pk,
        ).entry

    return old_grant


@pytest.fixture
def listing_of(grant):
    def listing_of(seller, quantity=20) -> MarketListing:
        grant(seller, "red_shard", quantity)
        return listing_create(seller_id=seller.pk, asset_code="red_shard", quantity=quantity, unit_price=5)

    return listing_of


def past_expiry(listing: MarketListing) -> None:
    MarketListing.objects.filter(pk=listing.pk).update(expires_at=timezone.now() - timedelta(minutes=1))


# Finding 1: grants cannot take the server's own keys.


@pytest.mark.parametrize("business_type", ["market_listing_cancelled", "market_listing_expired"])
def test_a_grant_named_as_a_listings_release_leaves_the_cancel_alone(
    user, other_user, business_type, available, frozen, listing_of
):
    listing = listing_of(user)

    granted = as_server(IssuerFactory()).post(
        GRANT, grant_body(other_user, business_type=business_type, business_id=str(listing.pk)), format="json"
    )
    listing_cancel(listing_id=listing.pk, actor=user)

    assert granted.status_code == 201, granted.content
    assert granted.json()["business_type"] == business_type  # echoed as the issuer named it
    assert JournalEntry.objects.get(pk=granted.json()["entry_id"]).business_type == f"grant:{business_type}"
    assert (available(user, "red_shard"), frozen(user, "red_shard")) == (20, 0)


def test_an_operators_grant_cannot_take_the_next_listings_hold(user, frozen, listing_of):
    listing = listing_of(user, quantity=5)
    next_key = str(listing.pk + 1)

    asset_grant(
        actor=OperatorFactory(),
        user_id=user.pk,
        asset_code="red_shard",
        amount=5,
        business_type="market_listing",
        business_id=next_key,
    )
    following = listing_create(seller_id=user.pk, asset_code="red_shard", quantity=5, unit_price=5)

    assert following.status == ListingStatus.ON_SALE and frozen(user, "red_shard") == 10


def test_a_grant_made_before_the_namespace_is_replayed_not_minted_again(user, available, issuer, old_grant):
    entry = old_grant(user, business_type="lottery", business_id="draw-1", meta={"draw": 1}, amount=3)

    replay = asset_grant(
        actor=issuer,
        user_id=user.pk,
        asset_code="red_shard",
        amount=3,
        business_type="lottery",
        business_id="draw-1",
        meta={"draw": 1},
    )

    assert (replay.entry.pk, replay.created) == (entry.pk, False)
    assert available(user, "red_shard") == 3
    with pytest.raises(IdempotencyConflict):
        asset_grant(
            actor=issuer,
            user_id=user.pk,
            asset_code="red_shard",
            amount=4,
            business_type="lottery",
            business_id="draw-1",
            meta={"draw": 1},
        )


@pytest.mark.parametrize("business_type", ["lottery\n", "x" * 59, "Lottery", "grant:x"])
def test_the_grant_service_refuses_a_type_outside_its_namespace(user, business_type, issuer):
    with pytest.raises(InvalidEntry) as refusal:
        asset_grant(
            actor=issuer,
            user_id=user.pk,
            asset_code="red_shard",
            amount=1,
            business_type=business_type,
            business_id="1",
        )

    assert refusal.value.code == "invalid_entry"


def test_an_item_grant_cannot_take_the_migrations_source(user):
    response = as_server(IssuerFactory()).post(
        ITEM_GRANT,
        {"user_id": user.pk, "item_type": "voucher", "name": "Lunch", "source": "migration", "business_id": "1"},
        format="json",
    )

    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_item"
    assert not ItemInstance.objects.filter(source="migration").exists()


# Finding 1 and the sweeps: one bad row is recorded, alerted once, and the run goes on.


def sweep_alerts(sweep: str) -> list[Alert]:
    return list(Alert.objects.filter(source="sweep", details__sweep=sweep))


def test_expire_listings_goes_on_past_a_listing_whose_release_key_was_taken(user, listing_of, old_grant):
    poisoned, later = listing_of(user), listing_of(user)
    old_grant(user, business_type="market_listing_expired", business_id=str(poisoned.pk))
    past_expiry(poisoned)
    past_expiry(later)

    call_command("expire_listings")
    listings_expire()  # the next hour: the same row fails again, and is not alerted again

    assert MarketListing.objects.get(pk=later.pk).status == ListingStatus.EXPIRED
    assert MarketListing.objects.get(pk=poisoned.pk).status == ListingStatus.ON_SALE
    [alert] = sweep_alerts("expire_listings")
    assert alert.details["rows"] == [str(poisoned.pk)]
    assert "IdempotencyConflict" in alert.details["failures"][0]["error"]


def test_expire_items_goes_on_past_an_item_whose_holder_cannot_be_closed(user, give_item, listing_of, old_grant):
    poisoned_listing = listing_of(user)
    old_grant(user, business_type="market_listing_expired", business_id=str(poisoned_listing.pk))
    poisoned, later = give_item(user), give_item(user)
    ItemInstance.objects.filter(pk=poisoned.pk).update(
        status=ItemStatus.LOCKED, locked_by=f"market:{poisoned_listing.pk}", locked_at=timezone.now()
    )
    later_listing = listing_create(seller_id=user.pk, item_instance_id=later.pk, unit_price=5)
    ItemInstance.objects.filter(pk__in=[poisoned.pk, later.pk]).update(expires_at=timezone.now() - timedelta(1))

    items_expire()

    assert ItemInstance.objects.get(pk=later.pk).status == ItemStatus.EXPIRED
    assert MarketListing.objects.get(pk=later_listing.pk).status == ListingStatus.EXPIRED
    assert ItemInstance.objects.get(pk=poisoned.pk).status == ItemStatus.LOCKED
    [alert] = sweep_alerts("expire_items")
    assert alert.details["rows"] == [str(poisoned.pk)]


def test_expire_redemption_orders_goes_on_past_an_order_that_cannot_be_closed(user, give_item):
    poisoned_item, later_item = give_item(user), give_item(user)
    poisoned = order_create(item_id=poisoned_item.pk, user_id=user.pk).order
    later = order_create(item_id=later_item.pk, user_id=user.pk).order
    ItemInstance.objects.filter(pk=poisoned_item.pk).update(status=ItemStatus.USED, locked_by=None, locked_at=None)
    RedemptionOrder.objects.filter(pk__in=[poisoned.pk, later.pk]).update(expires_at=timezone.now() - timedelta(1))

    orders_expire(batch_size=10)

    assert RedemptionOrder.objects.get(pk=later.pk).status == OrderStatus.EXPIRED
    assert ItemInstance.objects.get(pk=later_item.pk).status == ItemStatus.AVAILABLE
    assert RedemptionOrder.objects.get(pk=poisoned.pk).status == OrderStatus.PENDING
    [alert] = sweep_alerts("expire_redemption_orders")
    assert alert.details["rows"] == [str(poisoned.pk)]


# Finding 2 and 3: the feed reads what happened from the server's own rows.


def feed_of(user) -> list[dict]:
    response = as_server(user).get("/api/v4/activity")
    assert response.status_code == 200, response.content
    return response.json()["results"]


@pytest.mark.parametrize(
    ("business_type", "business_id", "meta"),
    [
        ("market_purchase", "nocolon", {}),
        ("gift", "g1", {"gift_id": "abc"}),
        ("gift", "g2", {"gift_id": [1]}),
        ("gift", "g3", {"gift_id": 2**70}),
    ],
)
def test_an_old_entry_with_a_services_type_shows_as_the_grant_it_was(user, business_type, business_id, meta, old_grant):
    old_grant(user, business_type=business_type, business_id=business_id, meta=meta)

    [row] = feed_of(user)

    assert (row["kind"], row["counterparty"], row["message"]) == ("grant", None, None)


def test_a_gifts_message_reaches_only_its_sender_and_recipient(alice, bob, grant, issuer, old_grant):
    grant(alice, "red_shard", 5)
    gift = gift_send(
        actor=alice, to_username=bob.username, idempotency_key="k", asset_code="red_shard", amount=2, message="secret"
    ).gift
    snoop = UserFactory()
    old_grant(issuer, business_type="gift", business_id="leak-1", meta={"gift_id": gift.pk})
    old_grant(snoop, business_type="gift", business_id="leak-2", meta={"gift_id": gift.pk})

    assert [row["message"] for row in feed_of(issuer)] == [None]
    assert [row["message"] for row in feed_of(snoop)] == [None]
    assert [(row["kind"], row["message"]) for row in feed_of(bob)] == [("gift_received", "secret")]
    assert ("gift_sent", "secret", "b***") in [(r["kind"], r["message"], r["counterparty"]) for r in feed_of(alice)]


def test_a_trade_in_the_feed_is_told_by_the_trade(alice, bob, grant, listing_of):
    listing = listing_of(alice, quantity=2)
    grant(bob, "DIAMOND", 100)
    listing_purchase(listing_id=listing.pk, buyer_id=bob.pk, quantity=1, idempotency_key="k")

    bought = {(row["kind"], row["counterparty"]) for row in feed_of(bob) if row["reference"].startswith("market_p")}
    sold = {(row["kind"], row["counterparty"]) for row in feed_of(alice) if row["reference"].startswith("market_p")}

    assert bought == {("purchase", "a***")} and sold == {("sale", "b***")}


# Finding 6: a voucher's face value.


@pytest.mark.parametrize("value", ["²", "3800", 10**30, -5000, 1.5, True])
def test_a_grant_refuses_a_value_that_is_no_face_value(user, value):
    response = as_server(IssuerFactory()).post(
        ITEM_GRANT,
        {"user_id": user.pk, "item_type": "voucher", "name": "Lunch", "meta": {"value": value}, "business_id": "v"},
        format="json",
    )

    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_item"


def test_the_admin_grant_form_refuses_a_value_that_is_no_face_value(user):
    browser = Client()
    browser.login(username=OperatorFactory().username, password=PASSWORD)

    response = browser.post(
        "/admin/items/iteminstance/add/",
        {"owner": user.pk, "item_type": "voucher", "name": "Lunch", "meta": '{"value": -5000}', "grant_key": "k1"},
    )

    assert response.status_code == 200 and "meta.value is from 0" in response.content.decode()
    assert not ItemInstance.objects.filter(owner=user).exists()


@pytest.mark.parametrize("value", ["²", "9" * 30, -5000])
def test_an_old_voucher_with_a_bad_value_is_redeemed_without_one_and_the_admin_shows_it(
    user, value, give_item, staff_for
):
    merchant_staff = staff_for(MerchantFactory())
    item = give_item(user)
    ItemInstance.objects.filter(pk=item.pk).update(meta={"value": value})
    order = order_fulfil(code=order_create(item_id=item.pk, user_id=user.pk).code, staff_user_id=merchant_staff.pk)
    admin = Client()
    admin.force_login(StaffFactory(is_superuser=True))

    items_page = admin.get("/admin/items/iteminstance/")
    orders_page = admin.get("/admin/redemption/redemptionorder/")
    report = admin.get("/admin/redemption/merchant/settlement/")

    assert RedemptionOrder.objects.get(pk=order.order.pk).face_value is None
    assert items_page.status_code == orders_page.status_code == report.status_code == 200
    assert f"not a face value: {value}"[:40] in items_page.content.decode()
    assert "-¥50.00" not in report.content.decode()


def test_the_migration_reports_a_legacy_row_whose_value_is_no_face_value(user):
    LegacyInventoryFactory(
        user_id=user.pk,
        name="¥20代金券",
        type="voucher",
        status="available",
        value=-5000,
        created_at=timezone.now(),
        updated_at=timezone.now(),
    )

    call_command("migrate_inventory", verbosity=0)

    record = MigrationRecord.objects.get()
    assert record.outcome == Outcome.FAILED and "value -5000" in record.reason
    assert not ItemInstance.objects.filter(owner=user).exists()


# Finding 8: a service's account receives no gifts.


@pytest.mark.parametrize("how", ["group", "key"])
def test_a_customer_cannot_gift_to_a_service_account(user, how, available, grant):
    service = IssuerFactory() if how == "group" else UserFactory()
    if how == "key":
        IssuerKey.objects.create_key(name="engine", issuer=service)
    grant(user, "red_shard", 5)

    response = as_server(user).post(
        "/api/v4/gifts",
        {"to_username": service.username, "asset_code": "red_shard", "amount": 1},
        format="json",
        HTTP_IDEMPOTENCY_KEY="g1",
    )

    assert response.status_code == 409 and response.json()["error"]["code"] == "recipient_is_service_account"
    assert not Gift.objects.exists() and available(user, "red_shard") == 5
