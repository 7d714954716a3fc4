import itertools
import threading

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.db import connection, connections
from rest_framework.test import APIClient

from core.authority import ISSUER_GROUP
from items.services import item_grant
from ledger.selectors import balance_get
from ledger.services import balance_change
from tests.factories import UserFactory

_grant_ids = itertools.count(1)
_item_refs = itertools.count(1)


def grant(user, asset_code: str, amount: int):
    """Give a user some of an asset through the ledger, as the lottery engine would."""
    return balance_change(
        user_id=user.pk,
        asset_code=asset_code,
        delta=amount,
        business_type="test_grant",
        business_id=str(next(_grant_ids)),
    )


def issuer_account():
    """The prize issuer account the tests' grants act as (one per database: tests' data is rolled back)."""
    issuer, _ = get_user_model().objects.get_or_create(username="test-issuer")
    issuer.groups.add(Group.objects.get(name=ISSUER_GROUP))
    return issuer


def give_item(owner, *, item_type="voucher", name="Set lunch", merchant_code=None, expires_at=None):
    """An item granted to `owner` through the items service, as the lottery would."""
    item, _ = item_grant(
        actor=issuer_account(),
        owner_id=owner.pk,
        item_type=item_type,
        name=name,
        source="test",
        source_ref=str(next(_item_refs)),
        meta={"description": "Set lunch for one", "value": 3800},
        expires_at=expires_at,
        merchant_code=merchant_code,
    )
    return item


def available(user, asset_code="DIAMOND") -> int:
    return balance_get(user_id=user.pk, asset_code=asset_code)["available_amount"]


def frozen(user, asset_code="DIAMOND") -> int:
    return balance_get(user_id=user.pk, asset_code=asset_code)["frozen_amount"]


def execute_sql(sql: str, params=()) -> None:
    """Write behind the services' back, as a bug or a bad manual fix would: for planting discrepancies."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def run_in_threads(target, count: int) -> list:
    """Run target(index) in `count` threads that start together, each on its own connection.

    Returns each thread's result or the exception it raised.
    """
    barrier = threading.Barrier(count)
    results = [None] * count

    def worker(index):
        try:
            barrier.wait()
            results[index] = target(index)
        except Exception as exc:
            results[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@pytest.fixture(autouse=True)
def fresh_failure_counters():
    """Failure counters (logins, redemption codes) live in the cache: every test starts without any."""
    cache.clear()


@pytest.fixture
def user(db):
    return UserFactory()


@pytest.fixture
def other_user(db):
    return UserFactory()


@pytest.fixture
def alice(db):
    """A customer with a name the tests' expectations spell out (activity feeds, migration reports)."""
    return UserFactory(username="alice")


@pytest.fixture
def bob(db):
    return UserFactory(username="bob")


@pytest.fixture
def client_for():
    def make(user) -> APIClient:
        client = APIClient()
        if user is not None:
            client.force_authenticate(user)
        return client

    return make


@pytest.fixture
def api(client_for, user) -> APIClient:
    return client_for(user)
