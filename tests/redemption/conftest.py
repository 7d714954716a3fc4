import pytest
from django.core.cache import cache

from redemption.services import merchant_staff_add
from tests.conftest import give_item
from tests.factories import MerchantFactory, StaffFactory


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
