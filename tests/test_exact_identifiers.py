"""Codes, keys and identifiers are compared exactly (SPEC §8; issue 12): `diamond` is not `DIAMOND`, and a key
that differs in case is another key, whatever the database's case-blind collation says."""

import pytest
from django.db import connection

from items.services import item_grant
from ledger.exceptions import UnknownAsset
from ledger.models import JournalEntry
from ledger.services import asset_grant, hold_create
from market.services import listing_create, listing_purchase
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

EXACT_COLUMNS = [
    ("asset_journal_entries", "business_id"),
    ("item_instances", "source_ref"),
    ("market_trades", "idempotency_key"),
]


@pytest.mark.skipif(connection.vendor != "mysql", reason="SQLite compares text exactly already")
@pytest.mark.parametrize(("table", "column"), EXACT_COLUMNS)
def test_client_chosen_keys_have_a_binary_collation(table, column):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT collation_name FROM information_schema.columns"
            " WHERE table_schema = DATABASE() AND table_name = %s AND column_name = %s",
            [table, column],
        )
        (collation,) = cursor.fetchone()

    assert collation in ("utf8mb4_nopad_bin", "utf8mb4_bin")


def test_an_asset_code_in_another_case_is_unknown_to_every_writer(user, available, grant, issuer):
    grant(user, "DIAMOND", 10)
    grant(user, "red_shard", 10)

    with pytest.raises(UnknownAsset):
        asset_grant(actor=issuer, user_id=user.pk, asset_code="diamond", amount=1, business_type="t", business_id="1")
    with pytest.raises(UnknownAsset):
        hold_create(user_id=user.pk, asset_code="RED_SHARD", amount=1, business_type="t", business_id="2")
    with pytest.raises(UnknownAsset):
        listing_create(seller_id=user.pk, asset_code="Red_Shard", quantity=1, unit_price=1)
    assert available(user) == 10 and available(user, "red_shard") == 10


def test_grants_whose_business_ids_differ_in_case_are_two_grants(user, available, issuer):
    for business_id in ("Prize-1", "prize-1"):
        asset_grant(
            actor=issuer,
            user_id=user.pk,
            asset_code="DIAMOND",
            amount=5,
            business_type="lottery_prize",
            business_id=business_id,
        )

    assert available(user) == 10
    assert JournalEntry.objects.filter(business_type="grant:lottery_prize").count() == 2


def test_item_grants_whose_references_differ_in_case_are_two_items(user, issuer):
    items = [
        item_grant(actor=issuer, owner_id=user.pk, item_type="voucher", name="x", source="t", source_ref=ref)
        for ref in ("Ref-1", "ref-1")
    ]

    assert items[0][0].pk != items[1][0].pk and items[1][1]


def test_purchase_keys_that_differ_in_case_are_two_purchases(user, available, grant):
    buyer = UserFactory()
    grant(user, "red_shard", 10)
    grant(buyer, "DIAMOND", 100)
    listing = listing_create(seller_id=user.pk, asset_code="red_shard", quantity=10, unit_price=5)

    first = listing_purchase(listing_id=listing.pk, buyer_id=buyer.pk, quantity=1, idempotency_key="Buy-1")
    second = listing_purchase(listing_id=listing.pk, buyer_id=buyer.pk, quantity=1, idempotency_key="buy-1")

    assert first.created and second.created and first.trade.pk != second.trade.pk
    assert available(buyer) == 90
