import itertools

import pytest
from django.core.cache import cache

from items.services import item_grant
from redemption.services import merchant_staff_add
from tests.factories import MerchantFactory, StaffFactory

_item_refs = itertools.count(1)


def give_item(owner, *, item_type: str = "voucher", merchant_code: str | None = None, expires_at=None, name="Lunch"):
    """An item granted to `owner` as the lottery would."""
    item, _ = item_grant(
        owner_id=owner.pk,
        item_type=item_type,
        name=name,
        source="test",
        source_ref=f"redemption-{next(_item_refs)}",
        meta={"description": "Set lunch for one", "value": 3800},
        expires_at=expires_at,
        merchant_code=merchant_code,
    )
    return item


def make_staff(merchant):
    staff = StaffFactory()
    merchant_staff_add(merchant_id=merchant.pk, user_id=staff.pk)
    return staff


@pytest.fixture(autouse=True)
def fresh_failure_counters():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def merchant(db):
    return MerchantFactory(code="NOODLE", name="Noodle House")


@pytest.fixture
def other_merchant(db):
    return MerchantFactory(code="DUMPLING", name="Dumpling Bar")


@pytest.fixture
def staff(merchant):
    return make_staff(merchant)


@pytest.fixture
def voucher(user):
    return give_item(user)
