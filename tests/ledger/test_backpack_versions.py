"""Every posting bumps the backpack versions of the users whose balances it changes, in its transaction
(core.models.BackpackVersion: the backpack's ETag), and no one else's."""

import pytest
from django.db import transaction

from core.models import BackpackVersion
from ledger.exceptions import InsufficientBalance
from ledger.services import hold_create, hold_release, transfer
from market.services import listing_create, listing_purchase
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def versions(*users) -> list[int]:
    found = dict(BackpackVersion.objects.filter(user__in=users).values_list("user_id", "version"))
    return [found.get(user.pk, 0) for user in users]


def test_a_grant_bumps_the_recipient_only(grant):
    user, bystander = UserFactory(), UserFactory()

    grant(user, "DIAMOND", 10)

    assert versions(user, bystander) == [1, 0]
    assert BackpackVersion.objects.count() == 1  # the issuance account has no backpack


def test_a_transfer_bumps_both_users(grant):
    payer, payee = UserFactory(), UserFactory()
    grant(payer, "DIAMOND", 10)

    transfer(
        from_user_id=payer.pk, to_user_id=payee.pk, asset_code="DIAMOND", amount=3, business_type="t", business_id="1"
    )

    assert versions(payer, payee) == [2, 1]


def test_freezing_and_releasing_bump_the_holder(grant):
    user = UserFactory()
    grant(user, "DIAMOND", 10)

    hold = hold_create(user_id=user.pk, asset_code="DIAMOND", amount=4, business_type="h", business_id="1")
    hold_release(hold_id=hold.pk, business_type="r", business_id="1")

    assert versions(user) == [3]


def test_a_purchase_bumps_buyer_and_seller(grant):
    seller, buyer = UserFactory(), UserFactory()
    grant(seller, "red_shard", 5)
    grant(buyer, "DIAMOND", 100)
    listing = listing_create(seller_id=seller.pk, asset_code="red_shard", quantity=5, unit_price=10)
    before = versions(seller, buyer)

    listing_purchase(listing_id=listing.pk, buyer_id=buyer.pk, quantity=2, idempotency_key="k")

    assert versions(seller, buyer) == [before[0] + 1, before[1] + 1]


def test_a_refused_posting_bumps_nothing(grant):
    payer, payee = UserFactory(), UserFactory()
    grant(payer, "DIAMOND", 1)

    with pytest.raises(InsufficientBalance), transaction.atomic():
        transfer(
            from_user_id=payer.pk,
            to_user_id=payee.pk,
            asset_code="DIAMOND",
            amount=5,
            business_type="t",
            business_id="1",
        )

    assert versions(payer, payee) == [1, 0]


def test_an_item_sale_bumps_buyer_and_seller_by_its_item_transfer_and_its_posting(give_item, grant):
    # Issue 21: a posting bumps all its owners, so the market no longer tells the ledger what the item
    # transfer bumped; the version only says "changed", and the sale changes it twice in one transaction.
    seller, buyer = UserFactory(), UserFactory()
    grant(buyer, "DIAMOND", 100)
    listing = listing_create(seller_id=seller.pk, item_instance_id=give_item(seller).pk, unit_price=10)
    before = versions(seller, buyer)

    listing_purchase(listing_id=listing.pk, buyer_id=buyer.pk, idempotency_key="k")

    assert versions(seller, buyer) == [before[0] + 2, before[1] + 2]
