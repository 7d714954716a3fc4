"""The fee split as properties over prices, quantities and fee rates."""

import pytest
from django.conf import settings as django_settings
from django.db.models import Sum
from django.test import override_settings
from hypothesis import given, settings
from hypothesis import strategies as st

from core.amounts import MAX_AMOUNT
from ledger.models import Balance, SystemAccount
from ledger.selectors import system_balance
from market.services import fee_split, listing_create, listing_purchase
from tests.factories import UserFactory

unit_prices = st.integers(min_value=1, max_value=10**7)
quantities = st.integers(min_value=1, max_value=10**6)
fee_rates = st.integers(min_value=0, max_value=10_000)


min_fees = st.integers(min_value=0, max_value=1000)


def expected_fee(total: int, fee_bps: int, min_fee: int) -> int:
    """SPEC §5: max(floor(total * bps / 10000), minimum) while the fee is on, never more than the total."""
    return min(total, max(total * fee_bps // 10_000, min_fee)) if fee_bps else 0


@given(unit_price=unit_prices, quantity=quantities, fee_bps=fee_rates)
def test_fee_split_is_exact_in_integers(unit_price, quantity, fee_bps):
    split = fee_split(unit_price=unit_price, quantity=quantity, fee_bps=fee_bps)

    assert split.total == unit_price * quantity
    assert split.seller_amount + split.fee == split.total
    assert 0 <= split.fee <= split.total
    # floor(total * bps / 10000), checked without division
    assert split.fee * 10_000 <= split.total * fee_bps < (split.fee + 1) * 10_000


@given(unit_price=unit_prices, quantity=quantities, fee_bps=fee_rates, min_fee=min_fees)
def test_with_a_minimum_the_fee_is_never_below_it_nor_above_the_total(unit_price, quantity, fee_bps, min_fee):
    split = fee_split(unit_price=unit_price, quantity=quantity, fee_bps=fee_bps, min_fee=min_fee)

    assert split.seller_amount + split.fee == split.total
    assert split.fee == expected_fee(split.total, fee_bps, min_fee)
    if fee_bps:
        assert split.fee >= min(min_fee, split.total)


@pytest.mark.django_db
def test_buying_one_unit_at_a_time_still_pays_the_minimum_fee(available, grant):
    seller, buyer = UserFactory(), UserFactory()
    grant(seller, "green_shard", 10)
    grant(buyer, "DIAMOND", 100)
    listing = listing_create(seller_id=seller.pk, asset_code="green_shard", quantity=10, unit_price=5)

    trades = [
        listing_purchase(listing_id=listing.pk, buyer_id=buyer.pk, quantity=1, idempotency_key=f"k{i}").trade
        for i in range(10)
    ]

    assert {trade.fee for trade in trades} == {1}  # floor(5 * 5 %) is 0: the minimum applies
    assert fee_account_balance("DIAMOND") == 10
    assert available(seller) == 40


def total_in_circulation(asset_code: str) -> int:
    sums = Balance.objects.filter(asset_id=asset_code).aggregate(a=Sum("available_amount"), f=Sum("frozen_amount"))
    return (sums["a"] or 0) + (sums["f"] or 0)


def fee_account_balance(asset_code: str) -> int:
    return system_balance(code=SystemAccount.PLATFORM_FEE, asset_code=asset_code)


@pytest.mark.django_db
@settings(max_examples=30, deadline=None)
@given(
    unit_price=st.integers(min_value=1, max_value=10**6),
    listed=st.integers(min_value=1, max_value=1000),
    bought=st.integers(min_value=1, max_value=1000),
    fee_bps=fee_rates,
)
def test_a_purchase_moves_the_price_between_buyer_seller_and_fee_account_only(
    unit_price, listed, bought, fee_bps, available, grant
):
    bought = min(bought, listed)
    seller, buyer = UserFactory(), UserFactory()
    grant(seller, "green_shard", listed)
    grant(buyer, "DIAMOND", unit_price * bought)
    listing = listing_create(seller_id=seller.pk, asset_code="green_shard", quantity=listed, unit_price=unit_price)
    circulation = total_in_circulation("DIAMOND")
    fee_before = fee_account_balance("DIAMOND")

    with override_settings(MARKET_FEE_BPS=fee_bps):
        trade = listing_purchase(listing_id=listing.pk, buyer_id=buyer.pk, quantity=bought, idempotency_key="k").trade

    assert trade.total == unit_price * bought <= MAX_AMOUNT
    assert trade.seller_amount + trade.fee == trade.total
    assert trade.fee == expected_fee(trade.total, fee_bps, django_settings.MARKET_MIN_FEE)
    assert available(buyer) == 0
    assert available(seller) == trade.seller_amount
    assert fee_account_balance("DIAMOND") - fee_before == trade.fee
    assert total_in_circulation("DIAMOND") == circulation
    assert available(buyer, "green_shard") == bought
