"""Buy orders (SPEC §14): the hold, matching at the resting order's price, partial fills, cancel and expiry."""

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.test import override_settings
from django.utils import timezone

from core.models import OutboxEvent
from ledger.exceptions import IdempotencyConflict, InsufficientBalance, UnknownAsset
from ledger.models import Hold, HoldStatus, SystemAccount
from ledger.reconciliation import ledger_discrepancies
from ledger.selectors import system_balance
from ledger.services import balance_change
from market.buy_order_services import buy_order_cancel, buy_order_place, buy_orders_expire
from market.exceptions import (
    AssetNotTradable,
    BuyOrderNotFound,
    BuyOrderNotOpen,
    InvalidBuyOrder,
    TooManyOpenBuyOrders,
    WouldTradeWithSelf,
)
from market.models import BuyOrder, BuyOrderStatus, ListingStatus, MarketListing, MarketTrade
from market.reconciliation import book_not_crossed, open_bids_match_frozen
from market.services import listing_cancel, listing_create
from operations.models import Alert
from tests.factories import OperatorFactory, UserFactory

pytestmark = pytest.mark.django_db

_keys = iter(range(1, 10**9))


def bid(buyer, quantity, max_unit_price, asset_code="red_shard", **options):
    return buy_order_place(
        buyer_id=buyer.pk,
        asset_code=asset_code,
        quantity=quantity,
        max_unit_price=max_unit_price,
        idempotency_key=options.pop("key", f"k{next(_keys)}"),
        **options,
    )


def ask(seller, quantity, unit_price, asset_code="red_shard"):
    return listing_create(seller_id=seller.pk, asset_code=asset_code, quantity=quantity, unit_price=unit_price)


def fees() -> int:
    return system_balance(code=SystemAccount.PLATFORM_FEE, asset_code="DIAMOND")


@pytest.fixture
def buyer(db, grant):
    user = UserFactory()
    grant(user, "DIAMOND", 10_000)
    return user


@pytest.fixture
def seller(db, grant):
    user = UserFactory()
    grant(user, "red_shard", 100)
    return user


def books_clean():
    assert book_not_crossed() == []
    assert open_bids_match_frozen() == []
    assert ledger_discrepancies() == []


def test_a_bid_that_crosses_nothing_rests_on_a_hold_of_quantity_times_price(buyer, available, frozen):
    result = bid(buyer, 10, 25)

    order = BuyOrder.objects.get(pk=result.order.pk)
    assert (order.status, order.quantity_remaining, result.fills, result.created) == ("open", 10, [], True)
    assert (order.hold.remaining, order.hold.status) == (250, HoldStatus.OPEN)
    assert (available(buyer), frozen(buyer)) == (10_000 - 250, 250)
    assert list(OutboxEvent.objects.values_list("event_type", flat=True)) == ["buy_order.placed"]
    books_clean()


def test_a_bid_fills_cheapest_ask_first_then_oldest_at_the_ask_price_and_releases_the_difference(
    buyer, seller, available, frozen, grant
):
    other = UserFactory()
    grant(other, "red_shard", 100)
    older_at_20 = ask(seller, 3, 20)
    newer_at_20 = ask(other, 3, 20)
    cheapest = ask(other, 2, 18)
    ask(seller, 5, 30)  # over the bid: untouched

    result = bid(buyer, 6, 25)

    fills = [(t.listing_id, t.quantity, t.unit_price) for t in result.fills]
    assert fills == [(cheapest.pk, 2, 18), (older_at_20.pk, 3, 20), (newer_at_20.pk, 1, 20)]
    order = BuyOrder.objects.get(pk=result.order.pk)
    assert (order.status, order.quantity_remaining, order.closed_at is not None) == ("filled", 0, True)
    assert order.hold.status == HoldStatus.SETTLED and order.hold.remaining == 0
    paid = 2 * 18 + 4 * 20
    assert (available(buyer), frozen(buyer), available(buyer, "red_shard")) == (10_000 - paid, 0, 6)
    assert MarketListing.objects.get(pk=newer_at_20.pk).quantity_remaining == 2
    assert all(t.buy_order_id == order.pk for t in result.fills)
    books_clean()


def test_a_partly_filled_bid_rests_with_what_is_left_and_its_hold_matches(buyer, seller, available, frozen):
    ask(seller, 4, 10)

    result = bid(buyer, 10, 12)

    order = BuyOrder.objects.get(pk=result.order.pk)
    assert (order.status, order.quantity_remaining) == ("open", 6)
    assert order.hold.remaining == 6 * 12
    assert (available(buyer), frozen(buyer)) == (10_000 - 40 - 72, 72)
    books_clean()


def test_a_new_ask_fills_highest_bid_first_then_oldest_at_the_bid_price(buyer, seller, available, grant):
    other = UserFactory()
    grant(other, "DIAMOND", 10_000)
    older_at_30 = bid(buyer, 2, 30).order
    newer_at_30 = bid(other, 2, 30).order
    highest = bid(other, 1, 35).order
    bid(buyer, 5, 10)  # under the ask: untouched
    seller_before, fees_before = available(seller, "DIAMOND"), fees()

    listing = ask(seller, 4, 25)

    trades = list(MarketTrade.objects.filter(listing=listing).order_by("pk"))
    assert [(t.buy_order_id, t.quantity, t.unit_price) for t in trades] == [
        (highest.pk, 1, 35),
        (older_at_30.pk, 2, 30),
        (newer_at_30.pk, 1, 30),
    ]
    listing = MarketListing.objects.get(pk=listing.pk)
    assert (listing.status, listing.quantity_remaining) == (ListingStatus.SOLD, 0)
    total = 35 + 60 + 30
    fee = sum(t.fee for t in trades)
    assert available(seller, "DIAMOND") - seller_before == total - fee
    assert fees() - fees_before == fee > 0
    assert BuyOrder.objects.get(pk=newer_at_30.pk).hold.remaining == 30
    books_clean()


def test_an_ask_partly_filled_rests_with_what_is_left(buyer, seller, available, frozen):
    bid(buyer, 3, 20)

    listing = ask(seller, 5, 20)

    listing = MarketListing.objects.get(pk=listing.pk)
    assert (listing.status, listing.quantity_remaining, listing.hold.remaining) == ("on_sale", 2, 2)
    assert (available(buyer, "red_shard"), frozen(buyer)) == (3, 0)
    books_clean()


def test_the_seller_pays_the_fee_on_a_fill(buyer, seller, available):
    with override_settings(MARKET_FEE_BPS=1000, MARKET_MIN_FEE=1):
        ask(seller, 10, 10)
        trade = bid(buyer, 10, 10).fills[0]

    assert (trade.total, trade.fee, trade.seller_amount) == (100, 10, 90)
    assert available(buyer) == 10_000 - 100
    assert available(seller, "DIAMOND") == 90


def test_cancel_releases_exactly_what_is_still_held(buyer, seller, available, frozen):
    ask(seller, 4, 10)
    order = bid(buyer, 10, 12).order

    cancelled = buy_order_cancel(buy_order_id=order.pk, actor=buyer)

    assert (cancelled.status, cancelled.quantity_remaining) == ("cancelled", 6)
    assert Hold.objects.get(pk=order.hold_id).status == HoldStatus.RELEASED
    assert (available(buyer), frozen(buyer)) == (10_000 - 40, 0)
    with pytest.raises(BuyOrderNotOpen):
        buy_order_cancel(buy_order_id=order.pk, actor=buyer)
    assert available(buyer) == 10_000 - 40
    books_clean()


def test_another_customer_cannot_cancel_but_an_operator_may(buyer):
    order = bid(buyer, 1, 5).order

    with pytest.raises(BuyOrderNotFound):
        buy_order_cancel(buy_order_id=order.pk, actor=UserFactory())
    assert buy_order_cancel(buy_order_id=order.pk, actor=OperatorFactory()).status == "cancelled"


def test_expiry_releases_what_is_held_and_skips_live_orders(buyer, frozen):
    due = bid(buyer, 2, 5).order
    live = bid(buyer, 3, 5).order
    BuyOrder.objects.filter(pk=due.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    assert buy_orders_expire() == 1

    assert BuyOrder.objects.get(pk=due.pk).status == BuyOrderStatus.EXPIRED
    assert BuyOrder.objects.get(pk=live.pk).status == BuyOrderStatus.OPEN
    assert frozen(buyer) == 15
    assert buy_orders_expire() == 0
    books_clean()


def test_expiry_goes_on_past_an_order_that_cannot_be_closed_and_alerts_once(buyer):
    poisoned, later = bid(buyer, 2, 5).order, bid(buyer, 3, 5).order
    # An old row: an entry that took the key of the poisoned order's release before keys had owners (issue 20).
    balance_change(
        user_id=buyer.pk,
        asset_code="DIAMOND",
        delta=1,
        business_type="market_buy_order_expired",
        business_id=str(poisoned.pk),
    )
    BuyOrder.objects.filter(pk__in=[poisoned.pk, later.pk]).update(expires_at=timezone.now() - timedelta(seconds=1))

    assert buy_orders_expire(batch_size=1) == 1
    buy_orders_expire()  # the next hour: the same row fails again, and is not alerted again

    assert BuyOrder.objects.get(pk=later.pk).status == BuyOrderStatus.EXPIRED
    assert BuyOrder.objects.get(pk=poisoned.pk).status == BuyOrderStatus.OPEN
    [alert] = Alert.objects.filter(source="sweep", details__sweep="expire_buy_orders")
    assert alert.details["rows"] == [str(poisoned.pk)]
    assert "IdempotencyConflict" in alert.details["failures"][0]["error"]


def test_an_expired_ask_is_not_filled(buyer, seller):
    listing = ask(seller, 3, 10)
    MarketListing.objects.filter(pk=listing.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    assert bid(buyer, 3, 10).fills == []
    books_clean()


def test_closing_an_ask_or_bid_events_go_through_the_outbox(buyer, seller):
    ask(seller, 2, 10)
    bid(buyer, 2, 10)

    types = list(OutboxEvent.objects.order_by("pk").values_list("event_type", flat=True))
    assert types == ["buy_order.placed", "trade.settled", "listing.sold", "buy_order.filled", "buy_order.closed"]


def test_a_retry_with_the_same_key_returns_the_order_and_moves_nothing(buyer, seller, available):
    ask(seller, 2, 10)
    first = bid(buyer, 5, 10, key="same")

    again = bid(buyer, 5, 10, key="same")

    assert (again.order.pk, again.created, [t.pk for t in again.fills]) == (first.order.pk, False, [first.fills[0].pk])
    assert available(buyer) == 10_000 - 20 - 30
    with pytest.raises(IdempotencyConflict):
        bid(buyer, 6, 10, key="same")


def test_a_bid_crossing_the_buyers_own_listing_is_refused_and_changes_nothing(buyer, seller, available, grant):
    grant(buyer, "red_shard", 5)
    ask(buyer, 5, 10)

    with pytest.raises(WouldTradeWithSelf):
        bid(buyer, 1, 10)

    assert (available(buyer), BuyOrder.objects.count()) == (10_000, 0)


def test_an_ask_crossing_the_sellers_own_bid_is_refused(buyer, grant):
    grant(buyer, "red_shard", 5)
    bid(buyer, 1, 10)

    with pytest.raises(WouldTradeWithSelf):
        ask(buyer, 5, 9)


def test_a_fill_stops_at_the_buyers_own_listing_only_once_reached(buyer, seller, grant):
    grant(buyer, "red_shard", 5)
    ask(seller, 2, 8)
    ask(buyer, 5, 10)

    assert [t.quantity for t in bid(buyer, 2, 10).fills] == [2]


@override_settings(MARKET_MAX_OPEN_BUY_ORDERS=2)
def test_the_open_order_limit_counts_open_orders_only(buyer):
    first = bid(buyer, 1, 5).order
    bid(buyer, 1, 5)
    with pytest.raises(TooManyOpenBuyOrders) as refused:
        bid(buyer, 1, 5)
    assert refused.value.code == "too_many_open_buy_orders"

    buy_order_cancel(buy_order_id=first.pk, actor=buyer)
    bid(buyer, 1, 5)


@pytest.mark.parametrize(
    ("options", "error", "code"),
    [
        ({"quantity": 0, "max_unit_price": 5}, InvalidBuyOrder, "invalid_buy_order"),
        ({"quantity": 1, "max_unit_price": -1}, InvalidBuyOrder, "invalid_buy_order"),
        ({"quantity": 10**12, "max_unit_price": 10**12}, InvalidBuyOrder, "invalid_buy_order"),
        ({"quantity": 1, "max_unit_price": 5, "asset_code": "DIAMOND"}, InvalidBuyOrder, "invalid_buy_order"),
        ({"quantity": 1, "max_unit_price": 5, "asset_code": "nope"}, UnknownAsset, "unknown_asset"),
        (
            {"quantity": 1, "max_unit_price": 5, "asset_code": "red_shard", "price_asset_code": "diamond"},
            UnknownAsset,
            "unknown_asset",
        ),
        ({"quantity": 1, "max_unit_price": 20_000}, InsufficientBalance, "insufficient_balance"),
        ({"quantity": 1, "max_unit_price": 5, "key": ""}, InvalidBuyOrder, "invalid_buy_order"),
        ({"quantity": 1, "max_unit_price": 5, "key": "two words"}, InvalidBuyOrder, "invalid_buy_order"),
        ({"quantity": 1, "max_unit_price": 5, "key": "#fill:1:2"}, InvalidBuyOrder, "invalid_buy_order"),
    ],
)
def test_invalid_orders_are_refused_with_stable_codes(buyer, options, error, code, available):
    with pytest.raises(error) as refused:
        bid(buyer, options.pop("quantity"), options.pop("max_unit_price"), **options)
    assert refused.value.code == code
    assert BuyOrder.objects.count() == 0 and available(buyer) == 10_000


def test_a_currency_is_not_bought_with_buy_orders(buyer, grant):
    grant(buyer, "red_shard", 10)
    with pytest.raises(AssetNotTradable):
        bid(buyer, 1, 1, asset_code="DIAMOND", price_asset_code="red_shard")


def test_a_cancelled_ask_is_no_longer_filled(buyer, seller):
    listing = ask(seller, 2, 10)
    listing_cancel(listing_id=listing.pk, actor=seller)

    assert bid(buyer, 2, 10).fills == []
    books_clean()


def test_reconciliation_finds_a_crossed_book_and_a_hold_that_drifted(buyer, seller, execute_sql):
    order = bid(buyer, 2, 10).order
    listing = ask(seller, 2, 11)
    execute_sql("UPDATE market_listings SET unit_price = 9 WHERE id = %s", [listing.pk])
    execute_sql("UPDATE asset_holds SET remaining = 19 WHERE id = %s", [order.hold_id])

    assert [d["check"] for d in book_not_crossed()] == ["book_not_crossed"]
    assert [d["check"] for d in open_bids_match_frozen()] == ["open_bid_matches_frozen"]


# The database keeps the invariants even against code that bypasses the services


@pytest.mark.parametrize(
    ("change", "constraint"),
    [
        ({"quantity_remaining": 11}, "buy_order_remaining_in_range"),
        ({"status": BuyOrderStatus.FILLED, "closed_at": timezone.now()}, "buy_order_remaining_matches_status"),
        ({"status": BuyOrderStatus.CANCELLED}, "buy_order_closed_iff_closed_at"),
        ({"closed_at": timezone.now()}, "buy_order_closed_iff_closed_at"),
    ],
)
def test_database_refuses_an_order_whose_remaining_status_and_closing_disagree(buyer, change, constraint):
    order = bid(buyer, 10, 5).order

    with pytest.raises(IntegrityError, match=constraint), transaction.atomic():
        BuyOrder.objects.filter(pk=order.pk).update(**change)


def test_database_refuses_a_second_order_at_the_same_place_in_the_book(buyer):
    first, second = bid(buyer, 1, 5).order, bid(buyer, 1, 5).order

    with pytest.raises(IntegrityError, match="buy_order_unique_book_seq"), transaction.atomic():
        BuyOrder.objects.filter(pk=second.pk).update(book_seq=first.book_seq)


def test_database_refuses_a_second_fill_of_the_same_order_and_listing(buyer, seller):
    ask(seller, 1, 5)
    fill = bid(buyer, 2, 5).fills[0]
    later = ask(seller, 1, 5)
    second = MarketTrade.objects.get(listing=later)

    with pytest.raises(IntegrityError, match="trade_unique_fill"), transaction.atomic():
        MarketTrade.objects.filter(pk=second.pk).update(listing_id=fill.listing_id)
