"""The SQL statements of a transfer, a grant and a purchase, pinned (issue 14): every round trip counts,
BEGIN, COMMIT and savepoints included, so a statement added to these paths is a decision, not an accident.

On committed data (`transaction=True`), so the outermost transaction is a real BEGIN and COMMIT; each path
is warmed first (accounts, balance rows and slot accounts exist), as it is for a returning user.
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from ledger.services import asset_grant, transfer
from market.services import listing_create, listing_purchase
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

# BEGIN; both accounts; both backpack versions; both balance rows locked; the entry; the balances; the legs;
# COMMIT.
TRANSFER_STATEMENTS = 8
# BEGIN; the asset's exact code; the issuer's counter of the day locked; the key as grants had it before they
# had their namespace (ledger.services.grants._grant_without_namespace: its replay must not mint twice); the
# transfer's six between BEGIN and COMMIT (with the issuance slot's account and row); the issuer's limits; the
# counter; the outbox; COMMIT.
GRANT_STATEMENTS = 14
# BEGIN; the listing locked; the accounts of buyer, seller and fee slot; the hold locked; both backpack
# versions; the five balance rows locked; the entry; the balances; the hold; the legs; the listing; the trade;
# the outbox; COMMIT.
ASSET_PURCHASE_STATEMENTS = 14
# An item sale: no hold, and the item's lock, update and event instead; its item transfer bumps the two
# backpack versions, and the posting bumps them again (issue 21: every posting bumps its owners, so no caller
# tells the ledger what another app bumped).
ITEM_PURCHASE_STATEMENTS = 16


def counted(call) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        call()
    return [query["sql"][:90] for query in queries]


def test_a_transfer_takes_a_fixed_number_of_statements(grant):
    payer, payee = UserFactory(), UserFactory()
    grant(payer, "DIAMOND", 10)
    grant(payee, "DIAMOND", 10)

    sent = counted(
        lambda: transfer(
            from_user_id=payer.pk,
            to_user_id=payee.pk,
            asset_code="DIAMOND",
            amount=1,
            business_type="t",
            business_id="1",
        )
    )

    assert len(sent) == TRANSFER_STATEMENTS, sent


def test_a_grant_takes_a_fixed_number_of_statements(issuer):
    user = UserFactory()
    asset_grant(actor=issuer, user_id=user.pk, asset_code="DIAMOND", amount=1, business_type="g", business_id="1")

    sent = counted(
        lambda: asset_grant(
            actor=issuer, user_id=user.pk, asset_code="DIAMOND", amount=1, business_type="g", business_id="2"
        )
    )

    assert len(sent) == GRANT_STATEMENTS, sent


def test_an_asset_purchase_takes_a_fixed_number_of_statements(grant):
    seller, buyer = UserFactory(), UserFactory()
    grant(seller, "red_shard", 10)
    grant(buyer, "DIAMOND", 1000)
    listing = listing_create(seller_id=seller.pk, asset_code="red_shard", quantity=10, unit_price=30)
    listing_purchase(listing_id=listing.pk, buyer_id=buyer.pk, quantity=1, idempotency_key="first")

    sent = counted(lambda: listing_purchase(listing_id=listing.pk, buyer_id=buyer.pk, quantity=1, idempotency_key="2"))

    assert len(sent) == ASSET_PURCHASE_STATEMENTS, sent


def test_an_item_purchase_takes_a_fixed_number_of_statements(give_item, grant):
    seller, buyer = UserFactory(), UserFactory()
    grant(buyer, "DIAMOND", 1000)
    first, second = give_item(seller), give_item(seller)
    warm = listing_create(seller_id=seller.pk, item_instance_id=first.pk, unit_price=30)
    listing_purchase(listing_id=warm.pk, buyer_id=buyer.pk, idempotency_key="first")
    listing = listing_create(seller_id=seller.pk, item_instance_id=second.pk, unit_price=30)

    sent = counted(lambda: listing_purchase(listing_id=listing.pk, buyer_id=buyer.pk, idempotency_key="2"))

    assert len(sent) == ITEM_PURCHASE_STATEMENTS, sent
