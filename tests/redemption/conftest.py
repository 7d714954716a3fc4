import pytest
from django.core.cache import cache

from tests.factories import MerchantFactory


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
def staff(merchant, staff_for):
    return staff_for(merchant)


@pytest.fixture
def voucher(user, give_item):
    return give_item(user)
