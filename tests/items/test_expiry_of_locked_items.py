"""Expiry is absolute (SPEC §2, issue 12): a listed item past its expiry cannot be bought, and the hourly sweep
expires locked items too, closing their holder first, in the same transaction."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from items.models import ItemInstance, ItemStatus
from items.services import items_expire
from items.tasks import expire_items
from ledger.reconciliation import ledger_discrepancies
from market.models import ListingStatus, MarketListing, MarketTrade
from market.services import listing_create
from operations.reconciliation import reconciliation_run
from redemption.models import OrderStatus, RedemptionOrder
from redemption.services import order_create
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def expire_now(item) -> None:
    """Time passes: the item's expiry is behind us (its row is otherwise untouched)."""
    ItemInstance.objects.filter(pk=item.pk).update(expires_at=timezone.now() - timedelta(seconds=1))


@pytest.fixture
def soon():
    return timezone.now() + timedelta(days=1)


def test_a_listed_item_past_its_expiry_cannot_be_bought(user, soon, available, give_item, grant):
    buyer = UserFactory()
    grant(buyer, "DIAMOND", 100)
    item = give_item(user, expires_at=soon)
    listing = listing_create(seller_id=user.pk, item_instance_id=item.pk, unit_price=50)
    expire_now(item)
    api = APIClient(raise_request_exception=False)
    api.force_authenticate(buyer)

    response = api.post(f"/api/v4/market/listings/{listing.pk}/purchase", {}, format="json")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "item_not_available"
    assert available(buyer) == 100
    assert not MarketTrade.objects.exists()
    assert ItemInstance.objects.get(pk=item.pk).owner_id == user.pk


def test_the_sweep_ends_the_listing_of_an_expired_item_and_expires_it(user, soon, give_item):
    item = give_item(user, expires_at=soon)
    listing = listing_create(seller_id=user.pk, item_instance_id=item.pk, unit_price=50)
    expire_now(item)

    assert items_expire() == 1

    item.refresh_from_db()
    assert (item.status, item.locked_by) == (ItemStatus.EXPIRED, None)
    assert MarketListing.objects.get(pk=listing.pk).status == ListingStatus.EXPIRED
    events = list(item.events.order_by("id").values_list("event_type", flat=True))
    assert events[-2:] == ["unlocked", "expired"]


def test_the_sweep_expires_the_pending_order_of_an_expired_item(user, soon, give_item):
    item = give_item(user, expires_at=soon)
    order = order_create(item_id=item.pk, user_id=user.pk).order
    expire_now(item)

    assert expire_items.apply().get() == 1

    assert ItemInstance.objects.get(pk=item.pk).status == ItemStatus.EXPIRED
    assert RedemptionOrder.objects.get(pk=order.pk).status == OrderStatus.EXPIRED


def test_the_sweep_leaves_a_lock_nobody_holds_to_reconciliation(user, soon, give_item):
    item = give_item(user, expires_at=soon)
    ItemInstance.objects.filter(pk=item.pk).update(
        status=ItemStatus.LOCKED, locked_by="someone:1", locked_at=timezone.now()
    )
    expire_now(item)

    assert items_expire() == 0
    assert ItemInstance.objects.get(pk=item.pk).status == ItemStatus.LOCKED


def test_after_the_sweep_the_books_and_the_locks_reconcile(user, soon, give_item):
    listed, ordered = give_item(user, expires_at=soon), give_item(user, expires_at=soon)
    listing_create(seller_id=user.pk, item_instance_id=listed.pk, unit_price=50)
    order_create(item_id=ordered.pk, user_id=user.pk)
    expire_now(listed)
    expire_now(ordered)

    assert items_expire(batch_size=1) == 2

    assert ledger_discrepancies() == []
    assert reconciliation_run().discrepancy_count == 0
