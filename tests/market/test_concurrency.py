"""Races on MariaDB: real threads, each with its own connection, on committed data."""

import random

import pytest
from django.db.models import Sum

from items.models import ItemInstance, ItemStatus
from ledger.models import Hold
from ledger.reconciliation import ledger_discrepancies
from market.exceptions import ListingNotOnSale, QuantityExceedsRemaining
from market.models import ListingStatus, MarketListing, MarketTrade
from market.services import PurchaseResult, listing_create, listing_purchase
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def test_32_buyers_racing_for_one_item_make_exactly_one_trade(available, give_item, grant, run_in_threads):
    seller = UserFactory()
    buyers = [UserFactory() for _ in range(32)]
    for buyer in buyers:
        grant(buyer, "DIAMOND", 1000)
    item = give_item(seller)
    listing = listing_create(seller_id=seller.pk, item_instance_id=item.pk, unit_price=700)

    results = run_in_threads(
        lambda i: listing_purchase(listing_id=listing.pk, buyer_id=buyers[i].pk, idempotency_key=f"race-{i}"), 32
    )

    won = [(i, r) for i, r in enumerate(results) if isinstance(r, PurchaseResult)]
    lost = [r for r in results if not isinstance(r, PurchaseResult)]
    assert len(won) == 1
    assert all(isinstance(r, ListingNotOnSale) for r in lost), lost
    winner = buyers[won[0][0]]
    item = ItemInstance.objects.get(pk=item.pk)
    assert (item.owner_id, item.status) == (winner.pk, ItemStatus.AVAILABLE)
    assert MarketTrade.objects.count() == 1
    assert MarketListing.objects.get(pk=listing.pk).status == ListingStatus.SOLD
    assert sum(available(b) for b in buyers) == 32 * 1000 - 700
    assert available(seller) == 700 - 35
    assert ledger_discrepancies() == []


def test_concurrent_partial_purchases_never_sell_more_than_listed(available, frozen, grant, run_in_threads):
    seller = UserFactory()
    grant(seller, "red_crystal", 60)
    buyers = [UserFactory() for _ in range(8)]
    for buyer in buyers:
        grant(buyer, "DIAMOND", 10_000)
    listing = listing_create(seller_id=seller.pk, asset_code="red_crystal", quantity=50, unit_price=7)

    def buy(index):
        rng = random.Random(index)
        bought = 0
        for n in range(6):
            quantity = rng.randint(1, 4)
            try:
                listing_purchase(
                    listing_id=listing.pk, buyer_id=buyers[index].pk, quantity=quantity, idempotency_key=f"{index}-{n}"
                )
                bought += quantity
            except (QuantityExceedsRemaining, ListingNotOnSale):
                pass
        return bought

    results = run_in_threads(buy, len(buyers))

    assert [r for r in results if isinstance(r, Exception)] == []
    listing = MarketListing.objects.get(pk=listing.pk)
    hold = Hold.objects.get(pk=listing.hold_id)
    sold = MarketTrade.objects.filter(listing=listing).aggregate(total=Sum("quantity"))["total"]
    assert sold == sum(results) == 50 - listing.quantity_remaining
    assert 0 <= sold <= 50
    assert hold.remaining == listing.quantity_remaining == frozen(seller, "red_crystal")
    assert sum(available(b, "red_crystal") for b in buyers) == sold
    assert available(seller, "red_crystal") == 10
    assert (listing.status == ListingStatus.SOLD) == (listing.quantity_remaining == 0)
    assert ledger_discrepancies() == []
