import importlib
from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.errors import Forbidden
from core.models import EventType, OutboxEvent
from gifts.exceptions import AssetNotGiftable, CannotGiftToSelf, GiftLimitExceeded, InvalidGift, RecipientNotFound
from gifts.models import Gift
from gifts.services import gift_send
from items.exceptions import ItemNotAvailable, ItemNotFound
from items.models import ItemEventType, ItemInstance, ItemStatus
from ledger.exceptions import IdempotencyConflict, InsufficientBalance, UnknownAsset
from ledger.models import Balance, JournalEntry
from ledger.reconciliation import ledger_discrepancies
from market.services import listing_create
from redemption.services import order_create
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def sender(user, grant):
    grant(user, "red_shard", 100)
    return user


@pytest.fixture
def recipient(other_user):
    return other_user


def state() -> tuple:
    """What a refused gift must leave as it was."""
    return (
        sorted(Balance.objects.values_list("account_id", "asset_id", "available_amount", "frozen_amount")),
        sorted(ItemInstance.objects.values_list("pk", "owner_id", "status", "locked_by")),
        Gift.objects.count(),
        JournalEntry.objects.count(),
        OutboxEvent.objects.count(),
    )


def send(sender, recipient, key="k1", **what):
    return gift_send(actor=sender, to_username=recipient.username, idempotency_key=key, **what)


def test_an_item_changes_owner_and_keeps_its_history(sender, recipient, give_item):
    item = give_item(sender)

    gift = send(sender, recipient, item_instance_id=item.pk, message="Happy birthday").gift

    item.refresh_from_db()
    assert (item.owner_id, item.status, item.locked_by) == (recipient.pk, ItemStatus.AVAILABLE, None)
    history = list(item.events.order_by("id").values_list("event_type", "from_owner_id", "to_owner_id", "business_ref"))
    assert history == [
        (ItemEventType.GRANTED, None, sender.pk, f"test:{item.source_ref}"),
        (ItemEventType.GIFTED, sender.pk, recipient.pk, f"gift:{gift.pk}"),
    ]
    assert (gift.sender_id, gift.recipient_id, gift.item_instance_id, gift.message) == (
        sender.pk,
        recipient.pk,
        item.pk,
        "Happy birthday",
    )


def test_assets_move_in_one_balanced_entry(sender, recipient, available):
    gift = send(sender, recipient, asset_code="red_shard", amount=30).gift

    assert (available(sender, "red_shard"), available(recipient, "red_shard")) == (70, 30)
    entry = JournalEntry.objects.get(business_type="gift")
    assert (entry.business_id, entry.meta, entry.actor_id) == (f"{sender.pk}:k1", {"gift_id": gift.pk}, sender.pk)
    assert (gift.entry_id, Gift.objects.get(pk=gift.pk).entry_id) == (entry.pk, entry.pk)  # the feed's link
    assert sorted(entry.legs.values_list("delta_available", flat=True)) == [-30, 30]
    assert ledger_discrepancies() == []


def test_the_database_links_an_entry_to_one_gift_at_most(sender, recipient):
    first = send(sender, recipient, key="1", asset_code="red_shard", amount=1).gift
    second = send(sender, recipient, key="2", asset_code="red_shard", amount=1).gift

    with pytest.raises(IntegrityError), transaction.atomic():
        Gift.objects.filter(pk=second.pk).update(entry_id=first.entry_id)


def test_the_migration_links_the_gifts_made_before_it_to_their_entries(sender, recipient, give_item):
    from django.apps import apps

    migration = importlib.import_module("gifts.migrations.0002_gift_entry")
    amount = send(sender, recipient, key="1", asset_code="red_shard", amount=1).gift
    item = send(sender, recipient, key="2", item_instance_id=give_item(sender).pk).gift
    Gift.objects.update(entry=None)

    migration.link_entries(apps, None)

    assert dict(Gift.objects.values_list("pk", "entry_id")) == {amount.pk: amount.entry_id, item.pk: None}


def test_both_sides_get_their_event(sender, recipient):
    gift = send(sender, recipient, asset_code="red_shard", amount=5, message="hi").gift

    events = list(
        OutboxEvent.objects.filter(event_type__startswith="gift.").order_by("id").values("event_type", "data")
    )
    assert [e["event_type"] for e in events] == [EventType.GIFT_SENT, EventType.GIFT_RECEIVED]
    assert events[1]["data"] | {"entry_id": None} == {
        "gift_id": gift.pk,
        "sender_id": sender.pk,
        "recipient_id": recipient.pk,
        "asset_code": "red_shard",
        "amount": 5,
        "entry_id": None,
        "message": "hi",
    }


def test_a_retry_with_the_same_key_returns_the_first_gift_and_moves_nothing(sender, recipient):
    first = send(sender, recipient, asset_code="red_shard", amount=10)
    before = state()

    again = send(sender, recipient, asset_code="red_shard", amount=10)

    assert (first.created, again.created, again.gift.pk) == (True, False, first.gift.pk)
    assert state() == before


def test_the_same_key_for_another_gift_is_a_conflict(sender, recipient):
    send(sender, recipient, asset_code="red_shard", amount=10)
    before = state()

    with pytest.raises(IdempotencyConflict):
        send(sender, recipient, asset_code="red_shard", amount=11)

    assert state() == before


def test_keys_are_the_senders_own(sender, recipient, grant):
    grant(recipient, "red_shard", 5)
    send(sender, recipient, asset_code="red_shard", amount=1)

    back = send(recipient, sender, asset_code="red_shard", amount=1)

    assert back.created


def test_no_gift_to_oneself(sender):
    with pytest.raises(CannotGiftToSelf):
        send(sender, sender, asset_code="red_shard", amount=1)


@pytest.mark.parametrize("who", ["nobody", "inactive", "other case"])
def test_an_unknown_or_inactive_recipient_gets_one_generic_refusal(sender, recipient, who):
    to_username = {
        "nobody": "no-such-user",
        "inactive": UserFactory(is_active=False).username,
        "other case": recipient.username.upper(),
    }[who]
    before = state()

    with pytest.raises(RecipientNotFound) as refusal:
        gift_send(actor=sender, to_username=to_username, idempotency_key="k", asset_code="red_shard", amount=1)

    assert (refusal.value.code, refusal.value.message, refusal.value.details) == (
        "recipient_not_found",
        "This gift cannot be sent to that recipient.",
        {},
    )
    assert state() == before


def test_what_is_given_is_checked_before_the_recipient(sender):
    with pytest.raises(InsufficientBalance):
        gift_send(actor=sender, to_username="no-such-user", idempotency_key="k", asset_code="red_shard", amount=101)


def test_an_item_locked_by_a_listing_is_refused(sender, recipient, give_item):
    item = give_item(sender)
    listing_create(seller_id=sender.pk, item_instance_id=item.pk, unit_price=10)
    before = state()

    with pytest.raises(ItemNotAvailable) as refusal:
        send(sender, recipient, item_instance_id=item.pk)

    assert refusal.value.details["status"] == ItemStatus.LOCKED
    assert state() == before


def test_an_item_locked_by_a_redemption_order_is_refused(sender, recipient, give_item):
    item = give_item(sender)
    order_create(item_id=item.pk, user_id=sender.pk)
    before = state()

    with pytest.raises(ItemNotAvailable):
        send(sender, recipient, item_instance_id=item.pk)

    assert state() == before


def test_an_item_past_its_expiry_is_refused_before_the_sweep(sender, recipient, give_item):
    item = give_item(sender, expires_at=timezone.now() - timedelta(seconds=1))

    with pytest.raises(ItemNotAvailable, match="expired"):
        send(sender, recipient, item_instance_id=item.pk)

    assert ItemInstance.objects.get(pk=item.pk).owner_id == sender.pk


def test_someone_elses_item_is_as_good_as_missing(sender, recipient, give_item):
    item = give_item(recipient)

    with pytest.raises(ItemNotFound):
        send(sender, UserFactory(), item_instance_id=item.pk)


def test_an_asset_that_is_not_tradable_cannot_be_given(sender, recipient, grant):
    grant(sender, "DIAMOND", 100)

    with pytest.raises(AssetNotGiftable):
        send(sender, recipient, asset_code="DIAMOND", amount=1)


def test_asset_codes_are_compared_exactly(sender, recipient):
    with pytest.raises(UnknownAsset):
        send(sender, recipient, asset_code="RED_SHARD", amount=1)


def test_more_than_the_balance_is_refused(sender, recipient):
    with pytest.raises(InsufficientBalance):
        send(sender, recipient, asset_code="red_shard", amount=101)


@pytest.mark.parametrize(
    "what",
    [
        {},
        {"item_instance_id": 1, "asset_code": "red_shard", "amount": 1},
        {"asset_code": "red_shard"},
        {"asset_code": "red_shard", "amount": 0},
        {"asset_code": "red_shard", "amount": 1.0},
        {"item_instance_id": 1, "amount": 1},
        {"asset_code": "red_shard", "amount": 1, "message": "x" * 201},
    ],
)
def test_a_gift_is_an_item_or_a_positive_amount_of_an_asset(sender, recipient, what):
    with pytest.raises(InvalidGift):
        send(sender, recipient, **what)


@pytest.mark.parametrize("key", ["", "x" * 65, "with space", None])
def test_an_idempotency_key_is_required(sender, recipient, key):
    with pytest.raises(InvalidGift):
        send(sender, recipient, key=key, asset_code="red_shard", amount=1)


def test_an_inactive_sender_may_not_give(sender, recipient):
    sender.is_active = False

    with pytest.raises(Forbidden):
        send(sender, recipient, asset_code="red_shard", amount=1)


def test_a_sender_gives_at_most_the_daily_count(sender, recipient, settings, give_item):
    settings.GIFT_DAILY_COUNT = 2
    send(sender, recipient, key="1", asset_code="red_shard", amount=1)
    send(sender, recipient, key="2", item_instance_id=give_item(sender).pk)
    before = state()

    with pytest.raises(GiftLimitExceeded):
        send(sender, recipient, key="3", asset_code="red_shard", amount=1)

    assert state() == before
    assert send(sender, recipient, key="2", item_instance_id=Gift.objects.get(idempotency_key="2").item_instance_id)


def test_a_sender_gives_at_most_the_daily_amount_of_each_asset(sender, recipient, settings, grant):
    settings.GIFT_DAILY_AMOUNTS = {"*": 1000, "red_shard": 10}
    grant(sender, "blue_shard", 100)
    send(sender, recipient, key="1", asset_code="red_shard", amount=6)

    with pytest.raises(GiftLimitExceeded) as refusal:
        send(sender, recipient, key="2", asset_code="red_shard", amount=5)

    assert refusal.value.details == {"asset_code": "red_shard", "limit": 10, "given_today": 6, "amount": 5}
    assert send(sender, recipient, key="3", asset_code="red_shard", amount=4).created
    assert send(sender, recipient, key="4", asset_code="blue_shard", amount=50).created


def test_yesterdays_gifts_do_not_count_today(sender, recipient, settings):
    settings.GIFT_DAILY_COUNT = 1
    send(sender, recipient, key="1", asset_code="red_shard", amount=1)
    Gift.objects.update(created_at=timezone.now() - timedelta(days=1))

    assert send(sender, recipient, key="2", asset_code="red_shard", amount=1).created
