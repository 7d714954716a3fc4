"""Races on MariaDB: real threads, each with its own connection, on committed data (SPEC §11)."""

import pytest

from core.errors import BackpackError
from gifts.models import Gift
from gifts.services import GiftResult, gift_send
from items.models import ItemInstance, ItemStatus
from ledger.reconciliation import ledger_discrepancies
from market.models import ListingStatus, MarketListing
from market.services import listing_create
from redemption.models import OrderStatus, RedemptionOrder
from redemption.services import order_create
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)
PAIRS = 4  # items raced for at once: two threads each


@pytest.fixture
def race(run_in_threads):
    def race(owner, items, rival):
        """For each item, a gift to a friend and `rival(item)` start together; returns [(gift outcome, rival outcome)]."""
        friend = UserFactory()

        def act(index):
            item = items[index // 2]
            if index % 2 == 0:
                return gift_send(
                    actor=owner, to_username=friend.username, idempotency_key=f"g{item.pk}", item_instance_id=item.pk
                )
            return rival(item)

        results = run_in_threads(act, 2 * len(items))
        return friend, [(results[i], results[i + 1]) for i in range(0, len(results), 2)]

    return race


def test_a_gift_racing_a_listing_of_the_same_item_has_one_winner(give_item, race):
    owner = UserFactory()
    items = [give_item(owner) for _ in range(PAIRS)]

    friend, outcomes = race(
        owner, items, lambda item: listing_create(seller_id=owner.pk, item_instance_id=item.pk, unit_price=5)
    )

    for item, (gift, listing) in zip(items, outcomes, strict=True):
        item.refresh_from_db()
        gift_won, listing_won = isinstance(gift, GiftResult), isinstance(listing, MarketListing)
        assert gift_won != listing_won, (gift, listing)
        assert isinstance(gift if listing_won else listing, BackpackError), (gift, listing)
        if gift_won:
            assert (item.owner_id, item.status) == (friend.pk, ItemStatus.AVAILABLE)
            assert not MarketListing.objects.filter(item_instance=item, status=ListingStatus.ON_SALE).exists()
        else:
            assert (item.owner_id, item.status, item.locked_by) == (owner.pk, ItemStatus.LOCKED, listing.lock_reference)
            assert not Gift.objects.filter(item_instance=item).exists()


def test_a_gift_racing_a_redemption_order_of_the_same_item_has_one_winner(give_item, race):
    owner = UserFactory()
    items = [give_item(owner) for _ in range(PAIRS)]

    friend, outcomes = race(owner, items, lambda item: order_create(item_id=item.pk, user_id=owner.pk))

    for item, (gift, order) in zip(items, outcomes, strict=True):
        item.refresh_from_db()
        gift_won = isinstance(gift, GiftResult)
        assert gift_won == isinstance(order, BackpackError), (gift, order)
        if gift_won:
            assert (item.owner_id, item.status) == (friend.pk, ItemStatus.AVAILABLE)
            assert not RedemptionOrder.objects.filter(item_instance=item, status=OrderStatus.PENDING).exists()
        else:
            assert isinstance(gift, BackpackError), gift
            assert (item.owner_id, item.locked_by) == (owner.pk, order.order.lock_holder)
            assert not Gift.objects.filter(item_instance=item).exists()


def test_two_gifts_of_the_same_item_have_one_winner(give_item, race):
    owner = UserFactory()
    items = [give_item(owner) for _ in range(PAIRS)]
    other_friend = UserFactory()

    _, outcomes = race(
        owner,
        items,
        lambda item: gift_send(
            actor=owner, to_username=other_friend.username, idempotency_key=f"h{item.pk}", item_instance_id=item.pk
        ),
    )

    for item, (first, second) in zip(items, outcomes, strict=True):
        winners = [result for result in (first, second) if isinstance(result, GiftResult)]
        assert len(winners) == 1, (first, second)
        assert ItemInstance.objects.get(pk=item.pk).owner_id == winners[0].gift.recipient_id
        assert Gift.objects.filter(item_instance=item).count() == 1


def test_one_key_sent_twice_at_once_gives_once(available, grant, run_in_threads):
    owner, friend = UserFactory(), UserFactory()
    grant(owner, "red_shard", 100)

    results = run_in_threads(
        lambda i: gift_send(
            actor=owner, to_username=friend.username, idempotency_key="same", asset_code="red_shard", amount=30
        ),
        4,
    )

    assert sorted(result.created for result in results) == [False, False, False, True]
    assert len({result.gift.pk for result in results}) == 1
    assert (available(owner, "red_shard"), available(friend, "red_shard")) == (70, 30)
    assert ledger_discrepancies() == []
