"""Every decision taken under a row lock holds when the conflicting writer is on another Galera node (SPEC §9).

Row locks are local to a node: two nodes' transactions on one row both run, and the one that commits
second fails certification (1213 at COMMIT) and is run again by core.db.atomic_with_retry, now seeing the
first one's write. Each race here sends its threads through two different nodes at once; clients must
see only the domain's answers (no database error: a 500 or a 503).
"""

import contextlib
import random

import pytest
from rest_framework.test import APIClient

from core.errors import BackpackError
from core.models import IdempotencyRecord
from gifts.exceptions import GiftLimitExceeded
from gifts.models import Gift
from gifts.services import gift_send
from items.models import ItemInstance, ItemStatus
from ledger.exceptions import InsufficientBalance, IssuanceLimitExceeded
from ledger.models import Hold, IssuanceDay
from ledger.reconciliation import ledger_discrepancies
from ledger.services import asset_grant, hold_create, transfer
from market.exceptions import ListingNotOnSale, QuantityExceedsRemaining
from market.models import MarketListing, MarketTrade
from market.services import listing_create, listing_purchase
from redemption.exceptions import CodeAlreadyUsed
from redemption.models import OrderStatus, RedemptionOrder
from redemption.services import order_create, order_fulfil
from tests.factories import IssuerFactory, MerchantFactory, UserFactory

pytestmark = pytest.mark.cluster


def customers(count: int) -> list:
    """Users who never log in: no password to hash (the hashing is most of a UserFactory's time)."""
    return UserFactory.create_batch(count, password=None)


def database_errors(results) -> list:
    """What would have reached a client as a 500 or a 503."""
    return [r for r in results if isinstance(r, Exception) and not isinstance(r, BackpackError)]


def test_two_nodes_spending_the_same_money_spend_it_once(cluster, available, grant, race):
    spender, payee = customers(2)
    grant(spender, "DIAMOND", 100)

    results = race(
        cluster,
        lambda n: transfer(
            from_user_id=spender.pk,
            to_user_id=payee.pk,
            asset_code="DIAMOND",
            amount=10,
            business_type="gift",
            business_id=f"spend-{spender.pk}-{n}",
        ),
        20,
    )

    assert database_errors(results) == []
    assert sum(not isinstance(r, Exception) for r in results) == 10
    assert all(isinstance(r, InsufficientBalance) for r in results if isinstance(r, Exception))
    assert (available(spender), available(payee)) == (0, 100)


def test_two_nodes_holding_the_same_money_freeze_it_once(cluster, available, frozen, grant, race):
    (user,) = customers(1)
    grant(user, "DIAMOND", 100)

    results = race(
        cluster,
        lambda n: hold_create(
            user_id=user.pk, asset_code="DIAMOND", amount=10, business_type="test_hold", business_id=f"{user.pk}-{n}"
        ),
        20,
    )

    assert database_errors(results) == []
    assert sum(isinstance(r, Hold) for r in results) == 10
    assert (available(user), frozen(user)) == (0, 100)


def test_two_nodes_granting_never_pass_the_issuers_daily_limit_together(cluster, settings, available, race):
    settings.ISSUANCE_LIMITS = {"*": {"per_grant": 100, "per_day": 250}}
    issuer, (user,) = IssuerFactory(), customers(1)

    results = race(
        cluster,
        lambda n: asset_grant(
            actor=issuer,
            user_id=user.pk,
            asset_code="DIAMOND",
            amount=60,
            business_type="lottery_prize",
            business_id=f"{issuer.pk}-{n}",
        ),
        8,
    )

    assert database_errors(results) == []
    assert all(isinstance(r, IssuanceLimitExceeded) for r in results if isinstance(r, Exception))
    assert sum(not isinstance(r, Exception) for r in results) == 4  # 4 x 60 = 240 <= 250 < 5 x 60
    assert sum(IssuanceDay.objects.filter(issuer=issuer).values_list("amount", flat=True)) == 240
    assert available(user) == 240


def test_gifts_from_two_nodes_stay_within_the_senders_daily_count(cluster, settings, available, grant, race):
    settings.GIFT_DAILY_COUNT = 5
    sender, friend = customers(2)
    grant(sender, "red_shard", 100)

    results = race(
        cluster,
        lambda n: gift_send(
            actor=sender, to_username=friend.username, idempotency_key=f"g{n}", asset_code="red_shard", amount=3
        ),
        12,
    )

    assert database_errors(results) == []
    assert all(isinstance(r, GiftLimitExceeded) for r in results if isinstance(r, Exception))
    assert Gift.objects.filter(sender=sender).count() == 5
    assert (available(sender, "red_shard"), available(friend, "red_shard")) == (85, 15)


def test_gifts_from_two_nodes_drain_a_balance_to_zero_and_no_further(cluster, settings, available, grant, race):
    settings.GIFT_DAILY_COUNT = 100
    sender, friend = customers(2)
    grant(sender, "red_shard", 100)

    results = race(
        cluster,
        lambda n: gift_send(
            actor=sender, to_username=friend.username, idempotency_key=f"d{n}", asset_code="red_shard", amount=5
        ),
        24,
    )

    assert database_errors(results) == []
    assert Gift.objects.filter(sender=sender).count() == 20
    assert (available(sender, "red_shard"), available(friend, "red_shard")) == (0, 100)


def test_30_buyers_on_two_nodes_of_a_10_unit_listing_buy_exactly_10(cluster, available, frozen, grant, race):
    (seller,) = customers(1)
    grant(seller, "red_crystal", 10)
    buyers = customers(30)
    for buyer in buyers:
        grant(buyer, "DIAMOND", 100)
    listing = listing_create(seller_id=seller.pk, asset_code="red_crystal", quantity=10, unit_price=7)

    results = race(
        cluster,
        lambda n: listing_purchase(listing_id=listing.pk, buyer_id=buyers[n].pk, quantity=1, idempotency_key=f"b{n}"),
        30,
    )

    assert database_errors(results) == []
    assert all(isinstance(r, QuantityExceedsRemaining | ListingNotOnSale) for r in results if isinstance(r, Exception))
    assert MarketTrade.objects.filter(listing_id=listing.pk).count() == 10
    assert sum(available(b, "red_crystal") for b in buyers) == 10
    assert MarketListing.objects.get(pk=listing.pk).quantity_remaining == 0
    assert (available(seller, "red_crystal"), frozen(seller, "red_crystal")) == (0, 0)


def test_two_staff_on_two_nodes_fulfil_one_code_once(cluster, give_item, race, staff_for):
    (customer,), merchant = customers(1), MerchantFactory()
    staff = [staff_for(merchant), staff_for(merchant)]
    item = give_item(customer)
    code = order_create(item_id=item.pk, user_id=customer.pk).code

    results = race(cluster, lambda n: order_fulfil(code=code, staff_user_id=staff[n].pk), 2)

    assert database_errors(results) == []
    assert sum(not isinstance(r, Exception) for r in results) == 1
    assert [type(r) for r in results if isinstance(r, Exception)] == [CodeAlreadyUsed]
    assert RedemptionOrder.objects.get(item_instance_id=item.pk).status == OrderStatus.FULFILLED
    assert ItemInstance.objects.get(pk=item.pk).status == ItemStatus.USED


def test_one_item_ordered_on_two_nodes_gets_one_pending_order(cluster, give_item, race):
    (customer,) = customers(1)
    item = give_item(customer)

    results = race(cluster, lambda n: order_create(item_id=item.pk, user_id=customer.pk), 6)

    assert database_errors(results) == []
    assert RedemptionOrder.objects.filter(item_instance_id=item.pk, status=OrderStatus.PENDING).count() == 1


def test_one_idempotency_key_sent_to_three_nodes_writes_once(cluster, available, frozen, grant, race):
    # Listing creation has no guarantee of its own against a repeat: the key's claim is the only one.
    (seller,) = customers(1)
    grant(seller, "red_crystal", 10)

    def put_on_sale(n):
        api = APIClient(raise_request_exception=False)
        api.force_authenticate(seller)
        response = api.post(
            "/api/v4/market/listings",
            {"asset_code": "red_crystal", "quantity": 2, "unit_price": 7},
            format="json",
            headers={"Idempotency-Key": f"sell-{seller.pk}"},
        )
        return response.status_code, response.json()

    results = race(cluster, put_on_sale, 9, nodes=(0, 1, 2))

    assert {status for status, _ in results} == {201}
    assert len({str(body) for _, body in results}) == 1
    assert MarketListing.objects.filter(seller_id=seller.pk).count() == 1
    assert IdempotencyRecord.objects.filter(caller_id=seller.pk).count() == 1
    assert (available(seller, "red_crystal"), frozen(seller, "red_crystal")) == (8, 2)


def test_a_mixed_load_on_two_nodes_keeps_the_books(cluster, available, grant, race):
    users = customers(4)
    for user in users:
        grant(user, "DIAMOND", 500)

    def trade(n):
        rng = random.Random(n)
        for step in range(10):
            source, target = rng.sample(users, 2)
            with contextlib.suppress(InsufficientBalance):
                transfer(
                    from_user_id=source.pk,
                    to_user_id=target.pk,
                    asset_code="DIAMOND",
                    amount=rng.randint(1, 80),
                    business_type="gift",
                    business_id=f"mix-{users[0].pk}-{n}-{step}",
                )

    results = race(cluster, trade, 6)

    assert results == [None] * 6
    assert sum(available(user) for user in users) == 2000
    assert ledger_discrepancies() == []
