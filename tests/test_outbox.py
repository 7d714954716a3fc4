"""The event outbox (SPEC §12): each business change records its event in its own transaction, so the
event exists if and only if the change committed."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from core.models import EventType, OutboxEvent
from core.services import Event, events_record
from items.services import item_expire, items_announce_expiring, items_expire
from ledger.exceptions import IssuanceLimitExceeded
from ledger.models import JournalEntry
from ledger.services import asset_grant
from market.services import listing_create, listing_purchase
from operations.reconciliation import reconciliation_run
from redemption.services import merchant_get_or_create, merchant_staff_add, order_create, order_fulfil
from tests.factories import StaffFactory, UserFactory


def events(event_type=None) -> list[dict]:
    rows = OutboxEvent.objects.order_by("id")
    if event_type:
        rows = rows.filter(event_type=event_type)
    return list(rows.values_list("data", flat=True))


def test_a_grant_records_asset_granted_with_it(user, issuer):
    result = asset_grant(
        actor=issuer,
        user_id=user.pk,
        asset_code="DIAMOND",
        amount=50,
        business_type="lottery_prize",
        business_id="draw-1",
    )

    assert events(EventType.ASSET_GRANTED) == [
        {
            "entry_id": result.entry.pk,
            "user_id": user.pk,
            "asset_code": "DIAMOND",
            "amount": 50,
            "actor_id": issuer.pk,
            "business_type": "lottery_prize",
            "business_id": "draw-1",
            "meta": None,
        }
    ]


def test_a_replayed_grant_records_nothing_more(user, issuer):
    grant_once = dict(actor=issuer, user_id=user.pk, asset_code="DIAMOND", amount=5, business_type="t", business_id="1")
    asset_grant(**grant_once)

    asset_grant(**grant_once)

    assert len(events(EventType.ASSET_GRANTED)) == 1


def test_a_change_rolled_back_leaves_no_event(user, give_item, issuer):
    with pytest.raises(RuntimeError), transaction.atomic():
        asset_grant(actor=issuer, user_id=user.pk, asset_code="DIAMOND", amount=5, business_type="t", business_id="1")
        give_item(user)
        raise RuntimeError("the caller's transaction fails after the change")

    assert OutboxEvent.objects.count() == 0
    assert not JournalEntry.objects.filter(business_type="t").exists()


def test_a_refused_grant_leaves_no_event(user, settings, issuer):
    settings.ISSUANCE_LIMITS = {"*": {"per_grant": 10, "per_day": 100}}

    with pytest.raises(IssuanceLimitExceeded):
        asset_grant(actor=issuer, user_id=user.pk, asset_code="DIAMOND", amount=11, business_type="t", business_id="1")

    assert OutboxEvent.objects.count() == 0


def test_events_are_recorded_only_inside_a_transaction():
    # No database (so no test transaction) here: the refusal comes before any query.
    with pytest.raises(RuntimeError, match="inside the transaction"):
        events_record(events=[Event(EventType.ITEM_GRANTED, {})])


def test_an_unknown_event_type_is_refused(db):
    with pytest.raises(ValueError, match="Unknown event type"), transaction.atomic():
        events_record(events=[Event("item.teleported", {})])


def test_an_item_grant_records_item_granted(user, give_item):
    item = give_item(user, merchant_code="M1")

    (data,) = events(EventType.ITEM_GRANTED)
    assert data == {
        "item_id": item.pk,
        "owner_id": user.pk,
        "item_type": "voucher",
        "name": "Set lunch",
        "expires_at": None,
        "merchant_code": "M1",
        "source": "test",
        "source_ref": item.source_ref,
    }


def test_the_expiry_sweep_and_staff_expiry_record_item_expired(user, give_item):
    past = timezone.now() - timedelta(minutes=1)
    swept = give_item(user, expires_at=past)
    by_staff = give_item(user)

    items_expire()
    item_expire(item_id=by_staff.pk, actor_id=StaffFactory().pk, even_if_not_due=True)

    assert [data["item_id"] for data in events(EventType.ITEM_EXPIRED)] == [swept.pk, by_staff.pk]


def test_items_expiring_within_three_days_are_announced_once(user, give_item):
    now = timezone.now()
    soon = give_item(user, expires_at=now + timedelta(days=2))
    give_item(user, expires_at=now + timedelta(days=4))
    give_item(user)

    items_announce_expiring(now=now)
    items_announce_expiring(now=now + timedelta(hours=12))

    assert [data["item_id"] for data in events(EventType.ITEM_EXPIRING_SOON)] == [soon.pk]


def test_a_purchase_records_trade_settled_and_the_last_one_listing_sold(user, other_user, grant):
    grant(user, "red_shard", 10)
    grant(other_user, "DIAMOND", 1000)
    listing = listing_create(seller_id=user.pk, asset_code="red_shard", quantity=3, unit_price=10)

    first = listing_purchase(listing_id=listing.pk, buyer_id=other_user.pk, quantity=2, idempotency_key="a").trade
    assert [d["trade_id"] for d in events(EventType.TRADE_SETTLED)] == [first.pk]
    assert events(EventType.LISTING_SOLD) == []

    last = listing_purchase(listing_id=listing.pk, buyer_id=other_user.pk, quantity=1, idempotency_key="b").trade
    listing_purchase(listing_id=listing.pk, buyer_id=other_user.pk, quantity=1, idempotency_key="b")  # a replay

    settled = events(EventType.TRADE_SETTLED)
    assert [d["trade_id"] for d in settled] == [first.pk, last.pk]
    assert settled[1] | {"entry_id": None} == {
        "trade_id": last.pk,
        "listing_id": listing.pk,
        "buyer_id": other_user.pk,
        "seller_id": user.pk,
        "listing_type": "asset",
        "asset_code": "red_shard",
        "item_instance_id": None,
        "price_asset_code": "DIAMOND",
        "unit_price": 10,
        "quantity": 1,
        "total": 10,
        "fee": 1,  # the minimum fee (SPEC §5)
        "seller_amount": 9,
        "entry_id": None,
    }
    (sold,) = events(EventType.LISTING_SOLD)
    assert (sold["listing_id"], sold["quantity"], sold["seller_id"]) == (listing.pk, 3, user.pk)


def test_a_fulfilled_code_records_code_redeemed_without_the_code(user, give_item):
    merchant = merchant_get_or_create(code="M9", name="Noodles")
    staff = StaffFactory()
    merchant_staff_add(merchant_id=merchant.pk, user_id=staff.pk)
    issued = order_create(item_id=give_item(user).pk, user_id=user.pk)

    order_fulfil(code=issued.code, staff_user_id=staff.pk)

    (data,) = events(EventType.CODE_REDEEMED)
    assert (data["order_id"], data["customer_id"], data["merchant_code"], data["redeemer_id"]) == (
        str(issued.order.order_id),
        user.pk,
        "M9",
        staff.pk,
    )
    assert issued.code not in str(data) and issued.code.replace("-", "") not in str(data)


def test_a_failed_reconciliation_records_reconciliation_failed(user, execute_sql, grant):
    grant(user, "DIAMOND", 10)
    execute_sql(
        "UPDATE account_asset_balances SET available_amount = 11 WHERE asset_code = 'DIAMOND' AND allows_negative = 0"
    )

    run = reconciliation_run()

    (data,) = events(EventType.RECONCILIATION_FAILED)
    assert (data["run_id"], data["status"]) == (run.pk, "failed")
    assert data["discrepancy_count"] == run.discrepancy_count > 0


def test_a_clean_reconciliation_records_nothing(user, grant):
    grant(UserFactory(), "DIAMOND", 10)

    reconciliation_run()

    assert events(EventType.RECONCILIATION_FAILED) == []
