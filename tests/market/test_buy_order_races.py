"""Races of the book on MariaDB: crossing bids and asks from real threads and two processes, each with its own
connection, on committed data. The book must never be crossed after a commit, and every fill is one trade."""

import functools
import multiprocessing
import random

import pytest
from django.db import connection, connections, transaction
from django.db.models import F, Sum

from core.errors import BackpackError
from ledger.models import JournalEntry
from ledger.reconciliation import ledger_discrepancies
from market.buy_order_services import buy_order_cancel, buy_order_place
from market.models import FILL_BUSINESS_TYPE, BuyOrder, BuyOrderStatus, ListingStatus, MarketListing, MarketTrade
from market.reconciliation import asset_listings_match_holds, book_not_crossed, open_bids_match_frozen
from market.services import listing_cancel, listing_create
from operations.reconciliation import reconciliation_run
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def test_a_bid_and_an_ask_placed_at_the_same_instant_match_exactly_once(grant, run_in_threads):
    buyer, seller = UserFactory(), UserFactory()
    grant(buyer, "DIAMOND", 10_000)
    grant(seller, "red_shard", 100)

    def place(round_: int, index: int):
        if index == 0:
            return buy_order_place(
                buyer_id=buyer.pk, asset_code="red_shard", quantity=3, max_unit_price=10, idempotency_key=f"r{round_}"
            )
        return listing_create(seller_id=seller.pk, asset_code="red_shard", quantity=3, unit_price=10)

    for round_ in range(8):
        results = run_in_threads(functools.partial(place, round_), 2)
        assert not [r for r in results if isinstance(r, Exception)], results
        order, listing = BuyOrder.objects.get(pk=results[0].order.pk), MarketListing.objects.get(pk=results[1].pk)
        assert (order.status, listing.status) == (BuyOrderStatus.FILLED, ListingStatus.SOLD)
        assert MarketTrade.objects.filter(buy_order=order, listing=listing).count() == 1
        assert book_not_crossed() == []
    assert ledger_discrepancies() == []


def _trade_randomly(seed: int, user_ids: list[int], operations: int, results) -> None:
    """A process's share of the race: bids, asks and cancels at random around one price, by shared users."""
    rng, done = random.Random(seed), {"placed": 0, "refused": 0, "cancelled": 0}
    try:
        for n in range(operations):
            user_id, roll = rng.choice(user_ids), rng.random()
            try:
                if roll < 0.45:
                    buy_order_place(
                        buyer_id=user_id,
                        asset_code="red_shard",
                        quantity=rng.randint(1, 5),
                        max_unit_price=rng.randint(8, 12),
                        idempotency_key=f"p{seed}-{n}",
                    )
                    done["placed"] += 1
                elif roll < 0.9:
                    listing_create(
                        seller_id=user_id,
                        asset_code="red_shard",
                        quantity=rng.randint(1, 5),
                        unit_price=rng.randint(8, 12),
                    )
                    done["placed"] += 1
                else:
                    _cancel_one(user_id)
                    done["cancelled"] += 1
            except BackpackError:  # crossing one's own order, an order closed meanwhile: refused, nothing moved
                done["refused"] += 1
        results.put(done)
    except BaseException as error:
        results.put(repr(error))
    finally:
        connections.close_all()


def _cancel_one(user_id: int) -> None:
    actor = UserFactory._meta.model.objects.get(pk=user_id)
    order = BuyOrder.objects.filter(buyer_id=user_id, status=BuyOrderStatus.OPEN).order_by("?").first()
    if order is not None:
        buy_order_cancel(buy_order_id=order.pk, actor=actor)
        return
    listing = MarketListing.objects.filter(seller_id=user_id, status=ListingStatus.ON_SALE).order_by("?").first()
    if listing is not None:
        listing_cancel(listing_id=listing.pk, actor=actor)


def _watch_the_book(stop, results) -> None:
    """Check the book over and over, each time on one consistent snapshot (REPEATABLE READ), until stopped."""
    checks, crossed = 0, []
    try:
        with connection.cursor() as cursor:
            cursor.execute("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        while not stop.is_set() or checks == 0:
            with transaction.atomic():
                crossed += book_not_crossed()
            checks += 1
        results.put({"checks": checks, "crossed": crossed})
    finally:
        connections.close_all()


def test_two_processes_placing_crossing_bids_and_asks_never_cross_the_book(grant):
    users = [UserFactory() for _ in range(6)]
    for user in users:
        grant(user, "DIAMOND", 100_000)
        grant(user, "red_shard", 1_000)
    user_ids = [user.pk for user in users]
    connections.close_all()  # the children must not share the parent's connection
    context = multiprocessing.get_context("fork")
    results, stop = context.Queue(), context.Event()
    watcher = context.Process(target=_watch_the_book, args=(stop, results))
    workers = [context.Process(target=_trade_randomly, args=(seed, user_ids, 60, results)) for seed in (1, 2)]
    for process in (watcher, *workers):
        process.start()
    outcomes = [results.get(timeout=300) for _ in workers]
    stop.set()
    watched = results.get(timeout=60)
    for process in (watcher, *workers):
        process.join(timeout=60)

    assert all(isinstance(outcome, dict) for outcome in outcomes), outcomes
    assert sum(outcome["placed"] for outcome in outcomes) > 60
    assert watched["checks"] > 0 and watched["crossed"] == [], watched
    assert book_not_crossed() == []
    fills = MarketTrade.objects.filter(buy_order__isnull=False)
    assert fills.count() > 10
    # Every fill entry has exactly one trade (a pair fills at most once: trade_unique_fill).
    assert JournalEntry.objects.filter(business_type=FILL_BUSINESS_TYPE).count() == fills.count()
    for order in BuyOrder.objects.annotate(filled=Sum("fills__quantity")):
        assert (order.filled or 0) == order.quantity - order.quantity_remaining
    for listing in MarketListing.objects.annotate(sold=Sum("trades__quantity")).filter(quantity__isnull=False):
        assert (listing.sold or 0) == listing.quantity - listing.quantity_remaining
    assert not fills.filter(unit_price__gt=F("buy_order__max_unit_price")).exists()
    assert not fills.filter(unit_price__lt=F("listing__unit_price")).exists()
    assert open_bids_match_frozen() == []
    assert asset_listings_match_holds() == []
    assert ledger_discrepancies() == []
    assert reconciliation_run().status == "passed"
