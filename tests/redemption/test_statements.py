"""The SQL statements of an order create and a fulfil, pinned (issue 14): every round trip counts,
BEGIN, COMMIT and savepoints included, so a statement added to these paths is a decision, not an accident.

On committed data (`transaction=True`), so the outermost transaction is a real BEGIN and COMMIT.
"""

import threading

import pytest
from django.db import OperationalError, connection, connections, transaction
from django.test.utils import CaptureQueriesContext

from items.models import ItemInstance
from redemption.codes import code_hash, code_normalise
from redemption.locks import order_lock_for_fulfil
from redemption.services import order_create, order_fulfil

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

FULFIL = "/api/v4/merchant/redemptions/fulfil"

# BEGIN; the item, read to check it and to find a pending order that holds it; item_lock (the item locked,
# the owner's backpack version, its update, its event); the order's insert in a savepoint (a code drawn again
# on a collision); COMMIT.
ORDER_CREATE_STATEMENTS = 10
# The caller's merchants; BEGIN; the order locked, with its item's merchant code; item_mark_used (the item
# locked, the owner's backpack version, its update, its event); the order's update; the outbox event; the
# attempt; COMMIT.
FULFIL_STATEMENTS = 11
# The service's, and after its COMMIT the customer, for the masked name in the answer.
API_FULFIL_STATEMENTS = FULFIL_STATEMENTS + 1


def test_an_order_create_takes_a_fixed_number_of_statements(user, voucher):
    with CaptureQueriesContext(connection) as queries:
        order_create(item_id=voucher.pk, user_id=user.pk)

    assert len(queries) == ORDER_CREATE_STATEMENTS, [q["sql"][:80] for q in queries]


def test_a_fulfil_takes_a_fixed_number_of_statements(user, voucher, staff):
    code = order_create(item_id=voucher.pk, user_id=user.pk).code

    with CaptureQueriesContext(connection) as queries:
        order_fulfil(code=code, staff_user_id=staff.pk, ip="192.0.2.1")

    assert len(queries) == FULFIL_STATEMENTS, [q["sql"][:80] for q in queries]


def test_a_fulfil_through_the_merchant_api_reads_the_callers_merchants_once(client_for, user, voucher, staff):
    code = order_create(item_id=voucher.pk, user_id=user.pk).code

    with CaptureQueriesContext(connection) as queries:
        response = client_for(staff).post(FULFIL, {"code": code}, format="json")

    assert response.status_code == 200
    assert len(queries) == API_FULFIL_STATEMENTS, [q["sql"][:80] for q in queries]


def test_the_fulfils_order_lock_leaves_the_item_unlocked(user, voucher):
    """The merchant code comes from a subquery, which takes no lock: the item is locked after the order,
    by its transition (core/locks.py), never in the order's statement."""
    issued = order_create(item_id=voucher.pk, user_id=user.pk)
    order_locked, done = threading.Event(), threading.Event()

    def hold_the_order_lock():
        try:
            with transaction.atomic():
                order = order_lock_for_fulfil(code_hash=code_hash(code_normalise(issued.code)))
                assert order.restricted_to == voucher.merchant_code
                order_locked.set()
                done.wait(timeout=10)
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold_the_order_lock)
    holder.start()
    try:
        assert order_locked.wait(timeout=10)
        with transaction.atomic():
            assert ItemInstance.objects.select_for_update(nowait=True).filter(pk=voucher.pk).exists()
        with pytest.raises(OperationalError), transaction.atomic():
            list(type(issued.order).objects.select_for_update(nowait=True).filter(pk=issued.order.pk))
    finally:
        done.set()
        holder.join()
