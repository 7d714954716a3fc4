"""The suite's shared fixtures. Pytest loads this file: tests ask for a fixture by name, never import it.

The helpers (grant, give_item, available, ...) are session fixtures returning plain functions: they keep no
state a test could leave behind, and Hypothesis's tests may ask for them.
"""

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
from redemption.services import merchant_staff_add
from tests.factories import StaffFactory, UserFactory

_grant_ids = itertools.count(1)
_item_refs = itertools.count(1)


def _issuer_account():
    """The prize issuer account the tests' grants act as (one per database: tests' data is rolled back)."""
    issuer, _ = get_user_model().objects.get_or_create(username="test-issuer")
    issuer.groups.add(Group.objects.get(name=ISSUER_GROUP))
    return issuer


@pytest.fixture
def issuer(db):
    """The prize issuer account give_item grants as: the actor for a test's own grants."""
    return _issuer_account()


@pytest.fixture(scope="session")
def grant():
    """grant(user, asset_code, amount): give a user some of an asset through the ledger, as the lottery engine would."""

    def grant(user, asset_code: str, amount: int):
        return balance_change(
            user_id=user.pk,
            asset_code=asset_code,
            delta=amount,
            business_type="test_grant",
            business_id=str(next(_grant_ids)),
        )

    return grant


@pytest.fixture(scope="session")
def give_item():
    """give_item(owner, ...): an item granted to `owner` through the items service, as the lottery would."""

    def give_item(owner, *, item_type="voucher", name="Set lunch", merchant_code=None, expires_at=None):
        item, _ = item_grant(
            actor=_issuer_account(),
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

    return give_item


@pytest.fixture(scope="session")
def available():
    """available(user, asset_code="DIAMOND"): the user's spendable balance of the asset."""

    def available(user, asset_code="DIAMOND") -> int:
        return balance_get(user_id=user.pk, asset_code=asset_code)["available_amount"]

    return available


@pytest.fixture(scope="session")
def frozen():
    """frozen(user, asset_code="DIAMOND"): the user's balance of the asset held by listings and gifts."""

    def frozen(user, asset_code="DIAMOND") -> int:
        return balance_get(user_id=user.pk, asset_code=asset_code)["frozen_amount"]

    return frozen


@pytest.fixture(scope="session")
def staff_for():
    """staff_for(merchant): a new staff user who works at the merchant."""

    def staff_for(merchant):
        staff = StaffFactory()
        merchant_staff_add(merchant_id=merchant.pk, user_id=staff.pk)
        return staff

    return staff_for


@pytest.fixture(scope="session")
def execute_sql():
    """execute_sql(sql, params): write behind the services' back, as a bug or a bad manual fix would, to plant
    discrepancies."""

    def execute_sql(sql: str, params=()) -> None:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)

    return execute_sql


@pytest.fixture(scope="session")
def run_in_threads():
    """run_in_threads(target, count): run target(index) in `count` threads that start together, each on its own
    connection; each thread's result or the exception it raised."""

    def run_in_threads(target, count: int) -> list:
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

    return run_in_threads


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
