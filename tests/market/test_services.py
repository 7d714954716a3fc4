from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.test import override_settings
from django.utils import timezone

from items.exceptions import ItemNotAvailable, ItemNotFound
from items.models import ItemInstance, ItemStatus
from items.services import item_lock
from ledger.exceptions import IdempotencyConflict, InsufficientBalance, UnknownAsset
from ledger.models import Balance, Hold, HoldStatus, JournalEntry, SystemAccount
from ledger.reconciliation import ledger_discrepancies
from ledger.selectors import system_accounts_of, system_balance
from market.exceptions import (
    AssetNotTradable,
    CannotBuyOwnListing,
    InvalidListing,
    ListingNotFound,
    ListingNotOnSale,
    QuantityExceedsRemaining,
    TooManyOpenListings,
)
from market.models import ListingStatus, ListingType, MarketListing, MarketTrade
from market.services import listing_cancel, listing_create, listing_purchase, listings_expire
from tests.factories import OperatorFactory, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def seller(user, grant):
    grant(user, "red_shard", 100)
    return user


@pytest.fixture
def buyer(other_user, grant):
    grant(other_user, "DIAMOND", 10_000)
    return other_user


@pytest.fixture
def shard_listing(seller):
    return listing_create(seller_id=seller.pk, asset_code="red_shard", quantity=10, unit_price=30)


def fee_balance(asset_code="DIAMOND") -> int:
    return system_balance(code=SystemAccount.PLATFORM_FEE, asset_code=asset_code)


def snapshot() -> dict:
    """Everything a refused purchase must leave untouched."""
    return {
        "balances": sorted(Balance.objects.values_list("account_id", "asset_id", "available_amount", "frozen_amount")),
        "holds": sorted(Hold.objects.values_list("pk", "remaining", "status")),
        "listings": sorted(MarketListing.objects.values_list("pk", "status", "quantity_remaining")),
        "items": sorted(ItemInstance.objects.values_list("pk", "owner_id", "status", "locked_by")),
        "entries": JournalEntry.objects.count(),
        "trades": MarketTrade.objects.count(),
    }


# Creating listings


def test_asset_listing_freezes_the_quantity_under_a_hold(seller, available, frozen):
    listing = listing_create(seller_id=seller.pk, asset_code="red_shard", quantity=10, unit_price=30)

    assert listing.listing_type == ListingType.ASSET
    assert listing.status == ListingStatus.ON_SALE
    assert listing.quantity_remaining == 10
    assert listing.price_asset_id == "DIAMOND"
    assert (listing.hold.remaining, listing.hold.status) == (10, HoldStatus.OPEN)
    assert (available(seller, "red_shard"), frozen(seller, "red_shard")) == (90, 10)
    assert ledger_discrepancies() == []


def test_item_listing_locks_the_item_by_the_listing(user, give_item):
    item = give_item(user)

    listing = listing_create(seller_id=user.pk, item_instance_id=item.pk, unit_price=500)

    item.refresh_from_db()
    assert listing.listing_type == ListingType.ITEM
    assert (item.status, item.locked_by) == (ItemStatus.LOCKED, f"market:{listing.pk}")


def test_diamond_is_not_tradable(user, grant):
    grant(user, "DIAMOND", 100)

    with pytest.raises(AssetNotTradable):
        listing_create(seller_id=user.pk, asset_code="DIAMOND", quantity=1, unit_price=1, price_asset_code="red_shard")


def test_price_asset_must_differ_from_the_listed_asset(seller):
    with pytest.raises(InvalidListing):
        listing_create(
            seller_id=seller.pk, asset_code="red_shard", quantity=1, unit_price=1, price_asset_code="red_shard"
        )


def test_unknown_assets_are_refused(seller):
    with pytest.raises(UnknownAsset):
        listing_create(seller_id=seller.pk, asset_code="gold", quantity=1, unit_price=1)
    with pytest.raises(UnknownAsset):
        listing_create(seller_id=seller.pk, asset_code="red_shard", quantity=1, unit_price=1, price_asset_code="gold")


@pytest.mark.parametrize(
    "fields",
    [
        {"asset_code": "red_shard", "quantity": 0, "unit_price": 5},
        {"asset_code": "red_shard", "quantity": 1, "unit_price": -5},
        {"asset_code": "red_shard", "quantity": 1.5, "unit_price": 5},
        {"asset_code": "red_shard", "quantity": True, "unit_price": 5},
        {"asset_code": "red_shard", "quantity": None, "unit_price": 5},
        {"asset_code": "red_shard", "quantity": 10**9, "unit_price": 10**9},
        {"unit_price": 5},
    ],
)
def test_invalid_listings_are_refused_and_freeze_nothing(seller, fields, frozen):
    with pytest.raises(InvalidListing):
        listing_create(seller_id=seller.pk, **fields)

    assert frozen(seller, "red_shard") == 0
    assert not MarketListing.objects.exists()


def test_asset_and_item_together_are_refused(seller, give_item):
    item = give_item(seller)

    with pytest.raises(InvalidListing):
        listing_create(seller_id=seller.pk, asset_code="red_shard", quantity=1, item_instance_id=item.pk, unit_price=5)


def test_listing_more_than_available_is_refused_and_leaves_no_listing(seller, available, frozen):
    with pytest.raises(InsufficientBalance):
        listing_create(seller_id=seller.pk, asset_code="red_shard", quantity=101, unit_price=5)

    assert not MarketListing.objects.exists()
    assert (available(seller, "red_shard"), frozen(seller, "red_shard")) == (100, 0)


def test_someone_elses_item_cannot_be_listed(user, other_user, give_item):
    item = give_item(other_user)

    with pytest.raises(ItemNotFound):
        listing_create(seller_id=user.pk, item_instance_id=item.pk, unit_price=5)

    assert not MarketListing.objects.exists()


def test_an_item_locked_by_something_else_cannot_be_listed(user, give_item):
    item = give_item(user)
    item_lock(item_id=item.pk, locked_by="redemption:some-order", owner_id=user.pk)

    with pytest.raises(ItemNotAvailable):
        listing_create(seller_id=user.pk, item_instance_id=item.pk, unit_price=5)

    item.refresh_from_db()
    assert item.locked_by == "redemption:some-order"
    assert not MarketListing.objects.exists()


def test_an_item_cannot_be_listed_twice(user, give_item):
    item = give_item(user)
    listing_create(seller_id=user.pk, item_instance_id=item.pk, unit_price=5)

    with pytest.raises(ItemNotAvailable):
        listing_create(seller_id=user.pk, item_instance_id=item.pk, unit_price=6)

    assert MarketListing.objects.count() == 1


@override_settings(MARKET_MAX_OPEN_LISTINGS=2)
def test_open_listings_per_seller_are_capped(seller, buyer):
    first = listing_create(seller_id=seller.pk, asset_code="red_shard", quantity=1, unit_price=5)
    listing_create(seller_id=seller.pk, asset_code="red_shard", quantity=1, unit_price=5)

    with pytest.raises(TooManyOpenListings):
        listing_create(seller_id=seller.pk, asset_code="red_shard", quantity=1, unit_price=5)

    listing_purchase(listing_id=first.pk, buyer_id=buyer.pk, quantity=1, idempotency_key="k")
    listing_create(seller_id=seller.pk, asset_code="red_shard", quantity=1, unit_price=5)
    assert MarketListing.objects.filter(status=ListingStatus.ON_SALE).count() == 2


# Purchases


def test_partial_purchase_moves_everything_in_one_entry(seller, buyer, shard_listing, available, frozen):
    result = listing_purchase(listing_id=shard_listing.pk, buyer_id=buyer.pk, quantity=4, idempotency_key="k1")

    trade = result.trade
    assert result.created
    assert (trade.quantity, trade.total, trade.fee, trade.seller_amount) == (4, 120, 6, 114)
    assert available(buyer) == 10_000 - 120
    assert available(buyer, "red_shard") == 4
    assert available(seller) == 114
    assert (available(seller, "red_shard"), frozen(seller, "red_shard")) == (90, 6)
    assert fee_balance() == 6
    shard_listing.refresh_from_db()
    assert (shard_listing.status, shard_listing.quantity_remaining) == (ListingStatus.ON_SALE, 6)
    assert shard_listing.hold.remaining == 6
    assert trade.entry.business_type == "market_purchase"
    assert trade.entry.legs.count() == 5
    assert ledger_discrepancies() == []


def test_buying_what_remains_sells_the_listing(seller, buyer, shard_listing, available, frozen):
    listing_purchase(listing_id=shard_listing.pk, buyer_id=buyer.pk, quantity=4, idempotency_key="k1")
    listing_purchase(listing_id=shard_listing.pk, buyer_id=buyer.pk, quantity=6, idempotency_key="k2")

    shard_listing.refresh_from_db()
    shard_listing.hold.refresh_from_db()
    assert (shard_listing.status, shard_listing.quantity_remaining) == (ListingStatus.SOLD, 0)
    assert shard_listing.sold_at is not None
    assert shard_listing.hold.status == HoldStatus.SETTLED
    assert frozen(seller, "red_shard") == 0
    assert available(buyer, "red_shard") == 10
    assert ledger_discrepancies() == []


def test_item_purchase_gives_the_item_to_the_buyer(seller, buyer, available, give_item):
    item = give_item(seller)
    listing = listing_create(seller_id=seller.pk, item_instance_id=item.pk, unit_price=999)

    trade = listing_purchase(listing_id=listing.pk, buyer_id=buyer.pk, idempotency_key="k").trade

    item.refresh_from_db()
    listing.refresh_from_db()
    assert (item.owner_id, item.status, item.locked_by) == (buyer.pk, ItemStatus.AVAILABLE, None)
    assert listing.status == ListingStatus.SOLD
    assert (trade.quantity, trade.total, trade.fee, trade.seller_amount) == (1, 999, 49, 950)
    assert (available(buyer), available(seller), fee_balance()) == (10_000 - 999, 950, 49)
    assert ledger_discrepancies() == []


def test_buying_your_own_listing_is_refused(seller, shard_listing, grant):
    grant(seller, "DIAMOND", 1000)
    before = snapshot()

    with pytest.raises(CannotBuyOwnListing):
        listing_purchase(listing_id=shard_listing.pk, buyer_id=seller.pk, quantity=1, idempotency_key="k")

    assert snapshot() == before


def test_buying_more_than_remains_is_refused(buyer, shard_listing):
    before = snapshot()

    with pytest.raises(QuantityExceedsRemaining):
        listing_purchase(listing_id=shard_listing.pk, buyer_id=buyer.pk, quantity=11, idempotency_key="k")

    assert snapshot() == before


def test_insufficient_balance_changes_nothing_anywhere(seller, other_user, shard_listing, grant):
    grant(other_user, "DIAMOND", 100)
    before = snapshot()

    with pytest.raises(InsufficientBalance):
        listing_purchase(listing_id=shard_listing.pk, buyer_id=other_user.pk, quantity=4, idempotency_key="k")

    assert snapshot() == before


def test_insufficient_balance_leaves_the_item_with_its_seller(seller, other_user, give_item):
    item = give_item(seller)
    listing = listing_create(seller_id=seller.pk, item_instance_id=item.pk, unit_price=999)
    before = snapshot()

    with pytest.raises(InsufficientBalance):
        listing_purchase(listing_id=listing.pk, buyer_id=other_user.pk, idempotency_key="k")

    assert snapshot() == before


def test_a_sold_listing_is_not_on_sale(buyer, seller, give_item, grant):
    item = give_item(seller)
    listing = listing_create(seller_id=seller.pk, item_instance_id=item.pk, unit_price=10)
    listing_purchase(listing_id=listing.pk, buyer_id=buyer.pk, idempotency_key="first")
    third = UserFactory()
    grant(third, "DIAMOND", 100)

    with pytest.raises(ListingNotOnSale):
        listing_purchase(listing_id=listing.pk, buyer_id=third.pk, idempotency_key="second")


def test_an_unknown_listing_is_not_found(buyer):
    with pytest.raises(ListingNotFound):
        listing_purchase(listing_id=12345, buyer_id=buyer.pk, quantity=1, idempotency_key="k")


def test_asset_purchase_needs_a_quantity_and_item_purchase_takes_none(seller, buyer, shard_listing, give_item):
    item = give_item(seller)
    item_listing = listing_create(seller_id=seller.pk, item_instance_id=item.pk, unit_price=10)

    with pytest.raises(InvalidListing):
        listing_purchase(listing_id=shard_listing.pk, buyer_id=buyer.pk, idempotency_key="a")
    with pytest.raises(InvalidListing):
        listing_purchase(listing_id=item_listing.pk, buyer_id=buyer.pk, quantity=2, idempotency_key="b")


def test_retry_with_the_same_key_returns_the_same_trade_and_charges_once(seller, buyer, shard_listing, available):
    first = listing_purchase(listing_id=shard_listing.pk, buyer_id=buyer.pk, quantity=4, idempotency_key="retry")
    second = listing_purchase(listing_id=shard_listing.pk, buyer_id=buyer.pk, quantity=4, idempotency_key="retry")

    assert (first.created, second.created) == (True, False)
    assert second.trade.pk == first.trade.pk
    assert available(buyer) == 10_000 - 120
    assert MarketTrade.objects.count() == 1
    shard_listing.refresh_from_db()
    assert shard_listing.quantity_remaining == 6


def test_retry_after_the_listing_sold_out_still_returns_the_trade(buyer, seller, available, give_item):
    item = give_item(seller)
    listing = listing_create(seller_id=seller.pk, item_instance_id=item.pk, unit_price=10)
    first = listing_purchase(listing_id=listing.pk, buyer_id=buyer.pk, idempotency_key="retry")

    second = listing_purchase(listing_id=listing.pk, buyer_id=buyer.pk, idempotency_key="retry")

    assert (second.trade.pk, second.created) == (first.trade.pk, False)
    assert available(buyer) == 10_000 - 10


def test_the_same_key_for_a_different_purchase_is_a_conflict(seller, buyer, shard_listing, available):
    other = listing_create(seller_id=seller.pk, asset_code="red_shard", quantity=5, unit_price=10)
    listing_purchase(listing_id=shard_listing.pk, buyer_id=buyer.pk, quantity=4, idempotency_key="retry")

    with pytest.raises(IdempotencyConflict):
        listing_purchase(listing_id=shard_listing.pk, buyer_id=buyer.pk, quantity=5, idempotency_key="retry")
    with pytest.raises(IdempotencyConflict):
        listing_purchase(listing_id=other.pk, buyer_id=buyer.pk, quantity=4, idempotency_key="retry")

    assert available(buyer) == 10_000 - 120


def test_two_buyers_may_use_the_same_key(seller, buyer, shard_listing, grant):
    third = UserFactory()
    grant(third, "DIAMOND", 1000)

    listing_purchase(listing_id=shard_listing.pk, buyer_id=buyer.pk, quantity=1, idempotency_key="same")
    result = listing_purchase(listing_id=shard_listing.pk, buyer_id=third.pk, quantity=1, idempotency_key="same")

    assert result.created
    assert MarketTrade.objects.count() == 2


@override_settings(MARKET_FEE_BPS=0)
def test_without_a_fee_the_seller_gets_everything_and_the_fee_account_is_untouched(
    seller, buyer, shard_listing, available
):
    trade = listing_purchase(listing_id=shard_listing.pk, buyer_id=buyer.pk, quantity=3, idempotency_key="k").trade

    assert (trade.fee, trade.seller_amount) == (0, 90)
    assert available(seller) == 90
    assert not Balance.objects.filter(account__in=system_accounts_of(SystemAccount.PLATFORM_FEE)).exists()
    assert trade.entry.legs.count() == 4
    assert ledger_discrepancies() == []


def test_the_fee_is_rounded_down_in_the_sellers_favour(seller, buyer):
    listing = listing_create(seller_id=seller.pk, asset_code="red_shard", quantity=10, unit_price=39)

    one = listing_purchase(listing_id=listing.pk, buyer_id=buyer.pk, quantity=1, idempotency_key="a").trade
    nine = listing_purchase(listing_id=listing.pk, buyer_id=buyer.pk, quantity=9, idempotency_key="b").trade

    assert (one.total, one.fee, one.seller_amount) == (39, 1, 38)  # 1.95 -> 1
    assert (nine.total, nine.fee, nine.seller_amount) == (351, 17, 334)  # 17.55 -> 17
    assert fee_balance() == 18


# Cancel and expiry


def test_cancel_releases_exactly_what_remains_held(seller, buyer, shard_listing, available, frozen):
    listing_purchase(listing_id=shard_listing.pk, buyer_id=buyer.pk, quantity=4, idempotency_key="k")

    listing = listing_cancel(listing_id=shard_listing.pk, actor=seller)

    assert listing.status == ListingStatus.CANCELLED
    assert listing.quantity_remaining == 6
    assert (available(seller, "red_shard"), frozen(seller, "red_shard")) == (96, 0)
    assert Hold.objects.get(pk=listing.hold_id).status == HoldStatus.RELEASED
    assert ledger_discrepancies() == []


def test_cancel_unlocks_the_item(user, give_item):
    item = give_item(user)
    listing = listing_create(seller_id=user.pk, item_instance_id=item.pk, unit_price=5)

    listing_cancel(listing_id=listing.pk, actor=user)

    item.refresh_from_db()
    assert (item.status, item.locked_by, item.owner_id) == (ItemStatus.AVAILABLE, None, user.pk)


def test_only_the_seller_or_an_operator_may_cancel_never_plain_staff(seller, buyer, shard_listing, frozen):
    with pytest.raises(ListingNotFound):
        listing_cancel(listing_id=shard_listing.pk, actor=buyer)
    with pytest.raises(ListingNotFound):
        listing_cancel(listing_id=shard_listing.pk, actor=StaffFactory())

    listing = listing_cancel(listing_id=shard_listing.pk, actor=OperatorFactory())

    assert listing.status == ListingStatus.CANCELLED
    assert frozen(seller, "red_shard") == 0


def test_a_cancelled_listing_cannot_be_cancelled_again_or_bought(seller, buyer, shard_listing, available):
    listing_cancel(listing_id=shard_listing.pk, actor=seller)

    with pytest.raises(ListingNotOnSale):
        listing_cancel(listing_id=shard_listing.pk, actor=seller)
    with pytest.raises(ListingNotOnSale):
        listing_purchase(listing_id=shard_listing.pk, buyer_id=buyer.pk, quantity=1, idempotency_key="k")

    assert available(seller, "red_shard") == 100


def test_expiry_releases_holds_and_locks_of_listings_past_their_time(
    seller, buyer, shard_listing, available, frozen, give_item
):
    item = give_item(seller)
    item_listing = listing_create(seller_id=seller.pk, item_instance_id=item.pk, unit_price=5)
    listing_purchase(listing_id=shard_listing.pk, buyer_id=buyer.pk, quantity=3, idempotency_key="k")
    later = timezone.now() + timedelta(days=14, seconds=1)

    assert listings_expire(now=later, batch_size=1) == 2
    assert listings_expire(now=later) == 0

    shard_listing.refresh_from_db()
    item_listing.refresh_from_db()
    item.refresh_from_db()
    assert (shard_listing.status, item_listing.status) == (ListingStatus.EXPIRED, ListingStatus.EXPIRED)
    assert (available(seller, "red_shard"), frozen(seller, "red_shard")) == (97, 0)
    assert (item.status, item.locked_by) == (ItemStatus.AVAILABLE, None)
    assert ledger_discrepancies() == []


def test_expiry_leaves_fresh_listings_on_sale(seller, shard_listing, frozen):
    assert listings_expire(now=timezone.now() + timedelta(days=13)) == 0

    shard_listing.refresh_from_db()
    assert shard_listing.status == ListingStatus.ON_SALE
    assert frozen(seller, "red_shard") == 10


@override_settings(MARKET_LISTING_TTL=timedelta(seconds=-1))
def test_a_listing_past_its_time_cannot_be_bought_before_the_task_runs(seller, buyer):
    listing = listing_create(seller_id=seller.pk, asset_code="red_shard", quantity=1, unit_price=5)

    with pytest.raises(ListingNotOnSale):
        listing_purchase(listing_id=listing.pk, buyer_id=buyer.pk, quantity=1, idempotency_key="k")


# The database keeps the invariants even against code that bypasses the services


def test_database_refuses_a_listing_with_both_an_asset_and_an_item(seller, give_item):
    item = give_item(seller)

    with pytest.raises(IntegrityError), transaction.atomic():
        MarketListing.objects.create(
            seller=seller,
            listing_type=ListingType.ASSET,
            asset_id="red_shard",
            quantity=1,
            quantity_remaining=1,
            item_instance=item,
            unit_price=5,
            expires_at=timezone.now(),
        )


def test_database_refuses_more_remaining_than_listed(shard_listing):
    with pytest.raises(IntegrityError), transaction.atomic():
        MarketListing.objects.filter(pk=shard_listing.pk).update(quantity_remaining=11)


def test_database_refuses_a_sold_listing_with_something_left(shard_listing):
    with pytest.raises(IntegrityError), transaction.atomic():
        MarketListing.objects.filter(pk=shard_listing.pk).update(status=ListingStatus.SOLD, sold_at=timezone.now())


def test_database_refuses_a_trade_whose_parts_do_not_sum_to_the_total(seller, buyer, shard_listing):
    trade = listing_purchase(listing_id=shard_listing.pk, buyer_id=buyer.pk, quantity=1, idempotency_key="k").trade

    with pytest.raises(IntegrityError), transaction.atomic():
        MarketTrade.objects.filter(pk=trade.pk).update(fee=trade.fee + 1)
