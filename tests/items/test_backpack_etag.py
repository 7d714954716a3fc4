"""Conditional backpack requests: a strong ETag that every change of what the backpack shows changes."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core.selectors import backpack_version
from gifts.services import gift_send
from items.api import views
from items.models import ItemInstance
from items.services import ImportedItem, item_lock, item_unlock, items_expire, items_import, items_remove_imported
from ledger.models import AssetType
from market.services import listing_create, listing_purchase
from redemption.services import order_cancel, order_create, order_fulfil
from tests.factories import MerchantFactory

pytestmark = pytest.mark.django_db

URL = "/api/v4/backpack"


def etag_of(client, **filters) -> str:
    response = client.get(URL, filters)
    assert response.status_code == 200
    return response["ETag"]


def test_the_etag_is_strong_and_stays_while_nothing_changes(api, user, give_item):
    give_item(user)

    first, second = etag_of(api), etag_of(api)

    assert first == second
    assert first.startswith('"') and first.endswith('"')


def test_the_current_etag_gets_304_with_the_etag_and_no_body(api, user, give_item):
    give_item(user)
    etag = etag_of(api)

    response = api.get(URL, headers={"If-None-Match": etag})

    assert response.status_code == 304
    assert response["ETag"] == etag
    assert response.content == b""


def test_304_reads_the_version_and_the_catalog_only(api, user, give_item, grant):
    grant(user, "DIAMOND", 5)
    give_item(user)
    etag = etag_of(api)

    with CaptureQueriesContext(connection) as queries:
        response = api.get(URL, headers={"If-None-Match": etag})

    assert response.status_code == 304
    tables = " ".join(query["sql"] for query in queries)
    assert len(queries) == 2
    assert "core_backpack_versions" in tables and "asset_types" in tables
    assert "item_instances" not in tables and "account_asset_balances" not in tables


@pytest.mark.parametrize(
    "if_none_match",
    ['"other", {etag}', '{etag}, "other"', "W/{etag}", "*", '"a","b" , {etag}'],
    ids=["last-of-list", "first-of-list", "weak-form", "star", "no-spaces"],
)
def test_if_none_match_lists_weak_tags_and_star_match(api, user, if_none_match):
    etag = etag_of(api)

    response = api.get(URL, headers={"If-None-Match": if_none_match.format(etag=etag)})

    assert response.status_code == 304


@pytest.mark.parametrize("if_none_match", ['"other"', '"other", W/"else"', "{etag}x", "nonsense"])
def test_if_none_match_without_the_current_etag_gets_the_backpack(api, user, if_none_match, give_item):
    give_item(user)
    etag = etag_of(api)

    response = api.get(URL, headers={"If-None-Match": if_none_match.format(etag=etag[:-1])})

    assert response.status_code == 200
    assert len(response.json()["items"]) == 1


def test_each_filter_has_its_own_etag(api, user):
    tags = {etag_of(api), etag_of(api, status="locked"), etag_of(api, item_type="voucher")}
    tags.add(etag_of(api, status="locked", item_type="voucher"))

    assert len(tags) == 4


def test_users_never_share_an_etag(client_for, user, other_user):
    assert etag_of(client_for(user)) != etag_of(client_for(other_user))


def test_an_edit_of_the_asset_catalog_changes_the_etag(api, user, grant):
    grant(user, "DIAMOND", 5)
    before = etag_of(api)
    diamond = AssetType.objects.get(pk="DIAMOND")
    diamond.icon = "💠"
    diamond.save()  # what the admin's change form does

    response = api.get(URL, headers={"If-None-Match": before})

    assert response.status_code == 200
    assert response.json()["assets"][0]["icon"] == "💠"
    assert response["ETag"] != before


@pytest.fixture
def redeemable(give_item, staff_for):
    def redeemable(user):
        """An item of the user's and a merchant's staff member who may redeem it."""
        return give_item(user), staff_for(MerchantFactory())

    return redeemable


@pytest.fixture
def asset_granted(grant):
    def asset_granted(user):
        return lambda: grant(user, "DIAMOND", 5)

    return asset_granted


@pytest.fixture
def item_granted(give_item):
    def item_granted(user):
        return lambda: give_item(user)

    return item_granted


@pytest.fixture
def item_locked(give_item):
    def item_locked(user):
        item = give_item(user)
        return lambda: item_lock(item_id=item.pk, locked_by="market:1")

    return item_locked


@pytest.fixture
def item_unlocked(give_item):
    def item_unlocked(user):
        item = give_item(user)
        item_lock(item_id=item.pk, locked_by="market:1")
        return lambda: item_unlock(item_id=item.pk, locked_by="market:1")

    return item_unlocked


@pytest.fixture
def item_expired(give_item):
    def item_expired(user):
        give_item(user, expires_at=timezone.now() - timedelta(minutes=1))
        return items_expire

    return item_expired


@pytest.fixture
def locked_item_expired(give_item):
    def locked_item_expired(user):
        item = give_item(user, expires_at=timezone.now() + timedelta(hours=1))
        order_create(item_id=item.pk, user_id=user.pk)
        ItemInstance.objects.filter(pk=item.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
        return items_expire

    return locked_item_expired


@pytest.fixture
def redemption_ordered(redeemable):
    def redemption_ordered(user):
        item, _ = redeemable(user)
        return lambda: order_create(item_id=item.pk, user_id=user.pk)

    return redemption_ordered


@pytest.fixture
def redemption_cancelled(redeemable):
    def redemption_cancelled(user):
        item, _ = redeemable(user)
        order = order_create(item_id=item.pk, user_id=user.pk).order
        return lambda: order_cancel(order_id=order.order_id, user_id=user.pk)

    return redemption_cancelled


@pytest.fixture
def redeemed(redeemable):
    def redeemed(user):
        item, staff = redeemable(user)
        code = order_create(item_id=item.pk, user_id=user.pk).code
        return lambda: order_fulfil(code=code, staff_user_id=staff.pk)

    return redeemed


# Each step is a fixture (it needs give_item or grant): the test asks for the one it runs by name.
@pytest.mark.parametrize(
    "prepare",
    [
        "asset_granted",
        "item_granted",
        "item_locked",
        "item_unlocked",
        "item_expired",
        "locked_item_expired",
        "redemption_ordered",
        "redemption_cancelled",
        "redeemed",
    ],
)
def test_every_change_of_the_backpack_changes_its_etag(api, user, prepare, request):
    change = request.getfixturevalue(prepare)(user)
    before = etag_of(api)
    body_before = api.get(URL).content

    change()
    response = api.get(URL, headers={"If-None-Match": before})

    assert response.status_code == 200
    assert response["ETag"] != before
    assert response.content != body_before


def test_a_sale_changes_both_backpacks(client_for, user, other_user, give_item, grant):
    grant(other_user, "DIAMOND", 1000)
    listing = listing_create(seller_id=user.pk, item_instance_id=give_item(user).pk, unit_price=500)
    seller, buyer = client_for(user), client_for(other_user)
    before = etag_of(seller), etag_of(buyer)

    listing_purchase(listing_id=listing.pk, buyer_id=other_user.pk, idempotency_key="k")

    assert etag_of(seller) != before[0] and etag_of(buyer) != before[1]


def test_an_item_gift_changes_both_backpacks(client_for, user, other_user, give_item):
    item = give_item(user)
    sender, recipient = client_for(user), client_for(other_user)
    before = etag_of(sender), etag_of(recipient)

    gift_send(actor=user, to_username=other_user.username, idempotency_key="k", item_instance_id=item.pk)

    assert etag_of(sender) != before[0] and etag_of(recipient) != before[1]


def test_an_import_and_its_undoing_change_the_owners_versions(user, other_user):
    imported = [
        ImportedItem(source_ref=str(n), owner_id=owner.pk, item_type="voucher", name="Old", status="available", meta={})
        for n, owner in enumerate([user, other_user])
    ]

    ids = items_import(source="migration", items=imported)
    after_import = backpack_version(user_id=user.pk), backpack_version(user_id=other_user.pk)
    items_remove_imported(source="migration", item_ids=list(ids.values()))

    assert after_import == (1, 1)
    assert (backpack_version(user_id=user.pk), backpack_version(user_id=other_user.pk)) == (2, 2)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_change_committed_between_the_tag_and_the_content_is_never_answered_304(
    client_for, user, monkeypatch, give_item, run_in_threads
):
    # Given a lock committed by another connection after the view read the tag, before it read the items
    item = give_item(user)
    api = client_for(user)
    read_items = views.selectors.backpack_items_json

    def items_after_a_competing_lock(**filters):
        run_in_threads(lambda _: item_lock(item_id=item.pk, locked_by="market:7"), 1)
        return read_items(**filters)

    monkeypatch.setattr(views.selectors, "backpack_items_json", items_after_a_competing_lock)
    raced = api.get(URL)
    monkeypatch.undo()

    # Then the body is newer than its tag, and that tag gets the backpack again, never a 304
    assert raced.json()["items"][0]["status"] == "locked"
    again = api.get(URL, headers={"If-None-Match": raced["ETag"]})
    assert again.status_code == 200
    assert again.content == raced.content and again["ETag"] != raced["ETag"]
