"""The database or Redis away: 503 in the envelope, never a 500; lost connections are replaced.

Found by the torture run (scripts/torture.py): with the database or Redis killed, requests answered
Django's HTML "Server Error (500)" page, which a client cannot tell from a bug.
"""

import pytest
import redis.exceptions
from django.db import OperationalError, connection, connections

from core import limits
from core.db import atomic_with_retry
from ledger.selectors import balance_get
from ledger.services import balance_change
from tests.factories import MerchantFactory

LOST = OperationalError(2013, "Lost connection to server during query")


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


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_connection_lost_before_commit_is_run_again_on_a_new_one(user):
    calls = []

    @atomic_with_retry
    def work():
        calls.append(connection.connection)
        if len(calls) == 1:
            raise LOST
        return "done"

    assert work() == "done"
    assert len(calls) == 2


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_connection_lost_during_commit_is_not_run_again(user, monkeypatch):
    calls = []
    monkeypatch.setattr(connection, "commit", raising(LOST))

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
