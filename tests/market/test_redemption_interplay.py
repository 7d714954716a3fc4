"""One lock at a time: an item on sale cannot get a code, an item with a code out cannot be listed."""

import pytest

from items.exceptions import ItemNotAvailable
from items.models import ItemStatus
from market.services import listing_cancel, listing_create
from redemption.services import order_cancel, order_create
from tests.factories import ItemFactory

pytestmark = pytest.mark.django_db


def test_an_item_locked_by_a_listing_cannot_get_a_redemption_order(user):
    item = ItemFactory(owner=user)
    listing = listing_create(seller_id=user.pk, item_instance_id=item.pk, unit_price=100)

    with pytest.raises(ItemNotAvailable):
        order_create(item_id=item.pk, user_id=user.pk)

    item.refresh_from_db()
    assert (item.status, item.locked_by) == (ItemStatus.LOCKED, listing.lock_reference)
    listing_cancel(listing_id=listing.pk, actor=user)
    assert order_create(item_id=item.pk, user_id=user.pk).code


def test_an_item_with_a_pending_redemption_order_cannot_be_listed(user):
    item = ItemFactory(owner=user)
    issued = order_create(item_id=item.pk, user_id=user.pk)

    with pytest.raises(ItemNotAvailable):
        listing_create(seller_id=user.pk, item_instance_id=item.pk, unit_price=100)

    item.refresh_from_db()
    assert item.locked_by == issued.order.lock_holder
    order_cancel(order_id=issued.order.order_id, user_id=user.pk)
    assert listing_create(seller_id=user.pk, item_instance_id=item.pk, unit_price=100).pk
