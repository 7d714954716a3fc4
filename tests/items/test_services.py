from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import IntegrityError, transaction
from django.utils import timezone

from items.exceptions import InvalidItem, ItemNotAvailable, ItemNotFound
from items.models import ItemEventType, ItemInstance, ItemStatus
from items.services import (
    item_expire,
    item_grant,
    item_lock,
    item_mark_used,
    item_transfer,
    item_unlock,
    items_expire,
)
from items.tasks import expire_items
from ledger.exceptions import IdempotencyConflict
from tests.factories import ItemFactory, UserFactory

pytestmark = pytest.mark.django_db

HOLDER = "redemption:order-1"


def snapshot(item):
    item.refresh_from_db()
    return (item.status, item.owner_id, item.locked_by, item.locked_at, item.events.count())


def locked_item(*, expires_at=None, **kwargs):
    """An item locked by HOLDER; an `expires_at` in the past is set after the lock (an item locked, then overdue)."""
    item = ItemFactory(**kwargs)
    item_lock(item_id=item.pk, locked_by=HOLDER)
    if expires_at is not None:
        ItemInstance.objects.filter(pk=item.pk).update(expires_at=expires_at)
        item.refresh_from_db()
    return item


# Legal transitions


def test_grant_creates_an_available_item_with_a_history(user, issuer):
    item, created = item_grant(
        actor=issuer, owner_id=user.pk, item_type="voucher", name="Tea", source="lottery", source_ref="d1"
    )

    assert created
    assert item.status == ItemStatus.AVAILABLE
    assert list(item.events.values_list("event_type", "to_status")) == [(ItemEventType.GRANTED, ItemStatus.AVAILABLE)]


def test_grant_replay_returns_the_same_item(user, issuer):
    first, _ = item_grant(
        actor=issuer, owner_id=user.pk, item_type="voucher", name="Tea", source="lottery", source_ref="d1"
    )

    again, created = item_grant(
        actor=issuer, owner_id=user.pk, item_type="voucher", name="Tea", source="lottery", source_ref="d1"
    )

    assert (again.pk, created) == (first.pk, False)
    assert ItemInstance.objects.count() == 1


def test_grant_replay_with_other_content_is_a_conflict(user, issuer):
    item_grant(actor=issuer, owner_id=user.pk, item_type="voucher", name="Tea", source="lottery", source_ref="d1")

    with pytest.raises(IdempotencyConflict):
        item_grant(
            actor=issuer,
            owner_id=user.pk,
            item_type="voucher",
            name="Coffee",
            source="lottery",
            source_ref="d1",
        )


def test_grant_refuses_an_unknown_type(user, issuer):
    with pytest.raises(InvalidItem):
        item_grant(actor=issuer, owner_id=user.pk, item_type="spaceship", name="X", source="lottery", source_ref="d1")


def test_lock_then_unlock_by_the_holder():
    item = ItemFactory()

    locked = item_lock(item_id=item.pk, locked_by=HOLDER)
    assert (locked.status, locked.locked_by) == (ItemStatus.LOCKED, HOLDER)
    assert locked.locked_at is not None

    unlocked = item_unlock(item_id=item.pk, locked_by=HOLDER)
    assert (unlocked.status, unlocked.locked_by, unlocked.locked_at) == (ItemStatus.AVAILABLE, None, None)
    assert list(item.events.order_by("id").values_list("event_type", flat=True)) == ["locked", "unlocked"]


def test_mark_used_by_the_holder():
    item = locked_item()

    used = item_mark_used(item_id=item.pk, locked_by=HOLDER)

    assert (used.status, used.locked_by) == (ItemStatus.USED, None)


def test_transfer_gives_the_item_to_the_buyer_available():
    item = ItemFactory()
    seller, buyer = item.owner, UserFactory()
    item_lock(item_id=item.pk, locked_by="market:9")

    moved = item_transfer(item_id=item.pk, locked_by="market:9", to_owner_id=buyer.pk)

    assert (moved.status, moved.owner_id, moved.locked_by) == (ItemStatus.AVAILABLE, buyer.pk, None)
    event = moved.events.get(event_type=ItemEventType.TRANSFERRED)
    assert (event.from_owner_id, event.to_owner_id) == (seller.pk, buyer.pk)


def test_expire_an_item_past_its_expiry():
    item = ItemFactory(expires_at=timezone.now() - timedelta(minutes=1))

    assert item_expire(item_id=item.pk).status == ItemStatus.EXPIRED


# Illegal transitions: refused, item unchanged


@pytest.mark.parametrize("status", [ItemStatus.LOCKED, ItemStatus.USED, ItemStatus.EXPIRED, ItemStatus.TRANSFERRED])
def test_lock_refuses_anything_but_available(status):
    item = locked_item() if status == ItemStatus.LOCKED else ItemFactory(status=status)
    before = snapshot(item)

    with pytest.raises(ItemNotAvailable), transaction.atomic():  # a savepoint: the test reads on after the refusal
        item_lock(item_id=item.pk, locked_by="market:2")

    assert snapshot(item) == before


@pytest.mark.parametrize(
    "action",
    [
        lambda item: item_unlock(item_id=item.pk, locked_by="market:other"),
        lambda item: item_mark_used(item_id=item.pk, locked_by="market:other"),
        lambda item: item_transfer(item_id=item.pk, locked_by="market:other", to_owner_id=UserFactory().pk),
    ],
    ids=["unlock", "mark_used", "transfer"],
)
def test_only_the_lock_holder_may_act_on_a_locked_item(action):
    item = locked_item()
    before = snapshot(item)

    with pytest.raises(ItemNotAvailable), transaction.atomic():
        action(item)

    assert snapshot(item) == before


@pytest.mark.parametrize(
    "action",
    [
        lambda item: item_unlock(item_id=item.pk, locked_by=HOLDER),
        lambda item: item_mark_used(item_id=item.pk, locked_by=HOLDER),
        lambda item: item_transfer(item_id=item.pk, locked_by=HOLDER, to_owner_id=UserFactory().pk),
    ],
    ids=["unlock", "mark_used", "transfer"],
)
@pytest.mark.parametrize("status", [ItemStatus.AVAILABLE, ItemStatus.USED, ItemStatus.EXPIRED, ItemStatus.TRANSFERRED])
def test_lock_holder_actions_need_a_locked_item(action, status):
    item = ItemFactory(status=status)
    before = snapshot(item)

    with pytest.raises(ItemNotAvailable), transaction.atomic():
        action(item)

    assert snapshot(item) == before


@pytest.mark.parametrize("status", [ItemStatus.LOCKED, ItemStatus.USED, ItemStatus.EXPIRED, ItemStatus.TRANSFERRED])
def test_expire_refuses_anything_but_available(status):
    past = timezone.now() - timedelta(days=1)
    item = locked_item(expires_at=past) if status == ItemStatus.LOCKED else ItemFactory(status=status, expires_at=past)
    before = snapshot(item)

    with pytest.raises(ItemNotAvailable):
        item_expire(item_id=item.pk)

    assert snapshot(item) == before


def test_expire_refuses_an_item_not_yet_due():
    item = ItemFactory(expires_at=timezone.now() + timedelta(days=1))

    with pytest.raises(ItemNotAvailable):
        item_expire(item_id=item.pk)

    assert snapshot(item)[0] == ItemStatus.AVAILABLE


def test_an_item_past_its_expiry_cannot_be_locked_whatever_its_status_row_says():
    item = ItemFactory(expires_at=timezone.now() - timedelta(seconds=1))
    before = snapshot(item)

    with pytest.raises(ItemNotAvailable, match="expired"), transaction.atomic():
        item_lock(item_id=item.pk, locked_by=HOLDER)

    assert snapshot(item) == before


def test_lock_for_an_owner_hides_other_peoples_items(other_user):
    item = ItemFactory()

    with pytest.raises(ItemNotFound), transaction.atomic():
        item_lock(item_id=item.pk, locked_by=HOLDER, owner_id=other_user.pk)

    assert snapshot(item)[0] == ItemStatus.AVAILABLE


# Batch expiry


def test_items_expire_expires_what_is_past_and_can_run_twice():
    now = timezone.now()
    past = ItemFactory.create_batch(3, expires_at=now - timedelta(hours=1))
    future = ItemFactory(expires_at=now + timedelta(hours=1))
    never = ItemFactory(expires_at=None)
    locked = locked_item(expires_at=now - timedelta(hours=1))

    assert items_expire(batch_size=2) == 3
    assert items_expire() == 0

    assert {i.status for i in ItemInstance.objects.filter(pk__in=[p.pk for p in past])} == {ItemStatus.EXPIRED}
    assert [snapshot(i)[0] for i in (future, never, locked)] == [
        ItemStatus.AVAILABLE,
        ItemStatus.AVAILABLE,
        ItemStatus.LOCKED,
    ]
    assert past[0].events.filter(event_type=ItemEventType.EXPIRED).count() == 1


def test_expiry_task_and_command_run_the_same_service():
    ItemFactory(expires_at=timezone.now() - timedelta(hours=1))
    assert expire_items.apply().get() == 1

    ItemFactory(expires_at=timezone.now() - timedelta(hours=1))
    call_command("expire_items")
    assert ItemInstance.objects.filter(status=ItemStatus.EXPIRED).count() == 2


def test_database_refuses_a_locked_item_without_a_holder():
    item = ItemFactory()

    with pytest.raises(IntegrityError), transaction.atomic():
        ItemInstance.objects.filter(pk=item.pk).update(status=ItemStatus.LOCKED)
