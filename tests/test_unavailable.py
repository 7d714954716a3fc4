"""The database or Redis away: 503 in the envelope, never a 500; lost connections are replaced.

Found by the torture run (scripts/torture.py): with the database or Redis killed, requests answered
Django's HTML "Server Error (500)" page, which a client cannot tell from a bug.
"""

import threading

import pytest
import redis.exceptions
from django.contrib.auth import get_user_model
from django.db import OperationalError, connection, connections
from django.urls import get_resolver
from rest_framework.test import APIClient

from core import limits
from core.db import BACKOFF_FIRST_SECONDS, BACKOFF_MAX_SECONDS, DEADLOCK_ATTEMPTS, atomic_with_retry, backoff_seconds
from core.models import IdempotencyRecord
from ledger.selectors import balance_get
from ledger.services import balance_change
from market.models import MarketListing
from tests.factories import MerchantFactory, UserFactory

LOST = OperationalError(2013, "Lost connection to server during query")
DEADLOCK = OperationalError(1213, "Deadlock found when trying to get lock; try restarting transaction")
NOT_READY = OperationalError(1047, "WSREP has not yet prepared node for application use")


@pytest.fixture(autouse=True)
def views_imported():
    """The views are imported before a test patches a selector: a view module first imported under the patch
    would keep the failing function for every later test (items.api.views imports balances_for_user)."""
    get_resolver().url_patterns  # noqa: B018


def raising(error):
    def fail(*args, **kwargs):
        raise error

    return fail


@pytest.mark.django_db
@pytest.mark.parametrize(
    "error",
    [
        OperationalError(2013, "Lost connection to server during query"),
        OperationalError(2002, "Can't connect to server through socket"),
        OperationalError(2006, "Server has gone away"),
        OperationalError(1205, "Lock wait timeout exceeded"),
        OperationalError(1047, "WSREP has not yet prepared node for application use"),
        OperationalError(1213, "Deadlock found when trying to get lock; try restarting transaction"),
    ],
)
def test_the_database_away_is_a_503_in_the_envelope(api, monkeypatch, error):
    monkeypatch.setattr("ledger.selectors.balances_for_user", raising(error))

    response = api.get("/api/v4/assets")

    assert response.status_code == 503
    assert response.json() == {
        "error": {
            "code": "service_unavailable",
            "message": "The service is briefly unavailable; try again with the same request.",
            "details": {},
        }
    }
    assert response["Retry-After"] == "1"


@pytest.mark.django_db
def test_redis_away_is_a_503_at_the_counter(client_for, monkeypatch, staff_for):
    staff = staff_for(MerchantFactory())
    monkeypatch.setattr(limits.cache, "add", raising(redis.exceptions.ConnectionError("Connection refused")))

    response = client_for(staff).post("/api/v4/merchant/redemptions/lookup", {"code": "ABCD-EFGH-JKMN"}, format="json")

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "service_unavailable"


@pytest.mark.django_db
def test_an_sql_error_is_not_hidden_as_unavailable(api, monkeypatch):
    monkeypatch.setattr("ledger.selectors.balances_for_user", raising(OperationalError(1054, "Unknown column")))

    response = api.get("/api/v4/assets")

    assert response.status_code == 500
    assert response.json()["error"]["code"] == "internal_error"


@pytest.mark.parametrize("error", [LOST, NOT_READY], ids=["connection lost", "node not ready"])
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_connection_that_fails_before_commit_is_run_again_on_a_new_one(user, error):
    calls = []

    @atomic_with_retry
    def work():
        calls.append(connection.connection)
        if len(calls) == 1:
            raise error
        return "done"

    assert work() == "done"
    assert len(calls) == 2
    assert calls[0] is not calls[1]


@pytest.mark.parametrize("error", [LOST, NOT_READY], ids=["connection lost", "node not ready"])
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_connection_that_fails_during_commit_is_not_run_again(user, monkeypatch, error):
    # Its write may have been committed (on a cluster, certified before the node left): the keyed retry decides.
    calls = []
    monkeypatch.setattr(connection, "commit", raising(error))

    @atomic_with_retry
    def work():
        calls.append(1)

    with pytest.raises(OperationalError):
        work()
    assert calls == [1]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_service_survives_its_connection_killed_by_the_database(user):
    balance_change(user_id=user.pk, asset_code="DIAMOND", delta=5, business_type="test_grant", business_id="a")
    other = connections.create_connection("default")
    with other.cursor() as cursor:
        cursor.execute(f"KILL CONNECTION {connection.connection.thread_id()}")
    other.close()

    balance_change(user_id=user.pk, asset_code="DIAMOND", delta=7, business_type="test_grant", business_id="b")

    assert balance_get(user_id=user.pk, asset_code="DIAMOND")["available_amount"] == 12


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_lock_wait_timeout_is_left_to_the_client(user):
    calls = []

    @atomic_with_retry
    def work():
        calls.append(1)
        raise OperationalError(1205, "Lock wait timeout exceeded")

    with pytest.raises(OperationalError):
        work()
    assert calls == [1]


def failing_once(real, error):
    """`real` that raises `error` on its first call."""
    calls = []

    def call(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise error
        return real(*args, **kwargs)

    return call


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_deadlock_at_commit_is_run_again(user, monkeypatch):
    # What a Galera node answers when another node's write set won certification (tests/cluster for the real one).
    monkeypatch.setattr(connection, "commit", failing_once(connection.commit, DEADLOCK))

    @atomic_with_retry
    def work():
        return balance_change(
            user_id=user.pk, asset_code="DIAMOND", delta=5, business_type="test_grant", business_id="c"
        )

    work()

    assert balance_get(user_id=user.pk, asset_code="DIAMOND")["available_amount"] == 5


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_real_deadlock_is_rolled_back_and_run_again_until_both_commit(run_in_threads):
    # Two transactions lock two rows in opposite orders: InnoDB rolls one back, which runs again.
    first, second = UserFactory(), UserFactory()
    barrier = threading.Barrier(2)
    attempts = []

    @atomic_with_retry
    def lock_both(mine, theirs):
        attempts.append(mine)
        with connection.cursor() as cursor:
            cursor.execute("SELECT id FROM auth_user WHERE id = %s FOR UPDATE", [mine])
            if attempts.count(mine) == 1:
                barrier.wait()
            cursor.execute("SELECT id FROM auth_user WHERE id = %s FOR UPDATE", [theirs])
            cursor.execute("UPDATE auth_user SET last_name = CONCAT(last_name, '+') WHERE id = %s", [mine])

    results = run_in_threads(lambda i: lock_both(*((first.pk, second.pk) if i == 0 else (second.pk, first.pk))), 2)

    assert results == [None, None]
    assert len(attempts) == 3
    assert sorted(u.last_name for u in get_user_model().objects.filter(pk__in=[first.pk, second.pk])) == ["+", "+"]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_conflict_that_keeps_losing_is_given_up_after_the_last_attempt(user, monkeypatch):
    monkeypatch.setattr("core.db.backoff_seconds", lambda attempt: 0)
    calls = []

    @atomic_with_retry
    def work():
        calls.append(1)
        raise DEADLOCK

    with pytest.raises(OperationalError):
        work()
    assert len(calls) == DEADLOCK_ATTEMPTS


def test_the_pause_between_attempts_grows_and_stays_below_its_ceiling():
    ceilings = [max(backoff_seconds(attempt) for _ in range(200)) for attempt in (1, 4, 12)]

    assert ceilings[0] <= BACKOFF_FIRST_SECONDS
    assert BACKOFF_FIRST_SECONDS < ceilings[1] <= 8 * BACKOFF_FIRST_SECONDS
    assert ceilings[2] <= BACKOFF_MAX_SECONDS


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_keyed_request_that_loses_at_commit_runs_again_with_its_claim_and_charges_once(user, monkeypatch, grant):
    grant(user, "red_shard", 10)
    api = APIClient()
    api.force_authenticate(user)
    monkeypatch.setattr(connection, "commit", failing_once(connection.commit, DEADLOCK))

    response = api.post(
        "/api/v4/market/listings",
        {"asset_code": "red_shard", "quantity": 2, "unit_price": 10},
        format="json",
        headers={"Idempotency-Key": "listing-1"},
    )

    assert response.status_code == 201
    assert IdempotencyRecord.objects.count() == 1
    assert MarketListing.objects.count() == 1
    assert balance_get(user_id=user.pk, asset_code="red_shard")["available_amount"] == 8
