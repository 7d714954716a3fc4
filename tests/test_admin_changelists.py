"""Admin lists read their related rows with the page, not once per row."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from market.services import listing_create
from tests.factories import StaffFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(StaffFactory(is_superuser=True))
    return client


def queries_to_list(admin_client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert admin_client.get(url).status_code == 200
    return len(queries)


@pytest.fixture
def sellers_with_listings(grant):
    def sellers_with_listings(count: int) -> None:
        for _ in range(count):
            seller = UserFactory()
            grant(seller, "red_shard", 10)
            listing_create(seller_id=seller.pk, asset_code="red_shard", quantity=1, unit_price=5)

    return sellers_with_listings


@pytest.mark.parametrize("url", ["/admin/ledger/balance/", "/admin/ledger/hold/", "/admin/market/marketlisting/"])
def test_a_changelist_takes_as_many_queries_for_ten_rows_as_for_one(admin_client, url, sellers_with_listings):
    sellers_with_listings(1)
    one_row = queries_to_list(admin_client, url)

    sellers_with_listings(9)
    ten_rows = queries_to_list(admin_client, url)

    assert ten_rows == one_row
