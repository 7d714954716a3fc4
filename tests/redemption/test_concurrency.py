"""Races on MariaDB: real threads, each with its own connection, on committed data."""

import pytest

from items.exceptions import ItemNotAvailable
from items.models import ItemEventType, ItemInstance, ItemStatus
from redemption.exceptions import CodeAlreadyUsed
from redemption.models import AttemptOutcome, OrderStatus, RedemptionAttempt, RedemptionOrder
from redemption.services import order_create, order_fulfil
from tests.factories import MerchantFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def test_two_staff_fulfilling_one_code_at_once_redeem_it_once(give_item, run_in_threads, staff_for):
    customer = UserFactory()
    merchant = MerchantFactory()
    staff = [staff_for(merchant), staff_for(merchant)]
    item = give_item(customer)
    code = order_create(item_id=item.pk, user_id=customer.pk).code

    results = run_in_threads(lambda index: order_fulfil(code=code, staff_user_id=staff[index].pk), 2)

    successes = [r for r in results if not isinstance(r, Exception)]
    refusals = [r for r in results if isinstance(r, Exception)]
    assert len(successes) == 1
    assert len(refusals) == 1 and isinstance(refusals[0], CodeAlreadyUsed)
    assert ItemInstance.objects.get(pk=item.pk).status == ItemStatus.USED
    assert ItemInstance.objects.get(pk=item.pk).events.filter(event_type=ItemEventType.USED).count() == 1
    order = RedemptionOrder.objects.get()
    assert order.status == OrderStatus.FULFILLED
    assert order.redeemer_id == successes[0].order.redeemer_id
    outcomes = sorted(RedemptionAttempt.objects.values_list("outcome", flat=True))
    assert outcomes == sorted([AttemptOutcome.OK, AttemptOutcome.ALREADY_USED])


def test_concurrent_requests_for_one_item_leave_exactly_one_pending_order(give_item, run_in_threads):
    customer = UserFactory()
    item = give_item(customer)
    threads = 8

    results = run_in_threads(lambda _: order_create(item_id=item.pk, user_id=customer.pk), threads)

    unexpected = [r for r in results if isinstance(r, Exception) and not isinstance(r, ItemNotAvailable)]
    assert unexpected == []
    pending = RedemptionOrder.objects.filter(status=OrderStatus.PENDING)
    assert pending.count() == 1
    item.refresh_from_db()
    assert item.status == ItemStatus.LOCKED
    assert item.locked_by == f"redemption:{pending.get().order_id}"
