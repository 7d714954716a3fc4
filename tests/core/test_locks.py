"""core.locks.rows_lock: rows locked by SQL, in primary-key order, inside the caller's transaction."""

import threading

import pytest
from django.db import OperationalError, connection, connections, transaction

from core.db import MYSQL_LOCK_WAIT_TIMEOUT, error_code, insert_one
from core.locks import rows_lock
from core.models import OutboxEvent


def _events(count: int) -> list[int]:
    ids = []
    for n in range(count):
        event = OutboxEvent(event_type="asset.granted", data={"n": n})
        insert_one(event)
        ids.append(event.pk)
    return ids


@pytest.mark.django_db
def test_rows_lock_returns_the_rows_in_primary_key_order_whatever_order_they_are_asked_in():
    ids = _events(3)

    with transaction.atomic():
        rows = rows_lock(OutboxEvent, [*reversed(ids), ids[0]])

    assert [row.pk for row in rows] == ids
    assert rows_lock(OutboxEvent, []) == []


@pytest.mark.skipif(connection.vendor != "mysql", reason="row locks need MariaDB")
# serialized_rollback, as every transactional test here: the flush after a test without it recreates the content
# types in app order, and a later test's snapshot (migration order) then collides with them.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_locked_rows_make_another_transaction_wait_and_others_do_not():
    locked, free = _events(2)
    outcome = {}

    def other_connection():
        try:
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute("SET SESSION innodb_lock_wait_timeout = 1")
                rows_lock(OutboxEvent, [free])
                outcome["free"] = "locked"
                try:
                    rows_lock(OutboxEvent, [locked])
                    outcome["held"] = "locked"
                except OperationalError as exc:
                    outcome["held"] = error_code(exc)
        finally:
            connections.close_all()

    with transaction.atomic():
        rows_lock(OutboxEvent, [locked])
        thread = threading.Thread(target=other_connection)
        thread.start()
        thread.join(timeout=10)

    assert outcome == {"free": "locked", "held": MYSQL_LOCK_WAIT_TIMEOUT}
