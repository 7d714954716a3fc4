"""A merchant whose fulfil answer was lost retries it, and must get the original success.

Found by the torture run (scripts/torture.py): a counter device that sent its own fulfil again (its
answer lost to a killed worker or a restarted database) was told `code_already_used` about its own
redemption. The merchant API asks for the original answer; the admin's verify page, where a person
reads the refusal (when, where), keeps refusing a repeat.
"""

import pytest
from django.test import override_settings

from items.models import ItemEventType, ItemInstance, ItemStatus
from redemption.exceptions import CodeAlreadyUsed
from redemption.models import AttemptOutcome, OrderStatus, RedemptionAttempt, RedemptionOrder
from redemption.services import order_create, order_fulfil

pytestmark = pytest.mark.django_db

FULFIL = "/api/v4/merchant/redemptions/fulfil"


def test_a_retried_fulfil_gets_the_original_success(user, voucher, staff, merchant):
    issued = order_create(item_id=voucher.pk, user_id=user.pk)
    first = order_fulfil(code=issued.code, staff_user_id=staff.pk, repeat_gets_original=True)

    retried = order_fulfil(code=issued.code, staff_user_id=staff.pk, repeat_gets_original=True)

    assert retried.order.order_id == first.order.order_id
    assert retried.order.status == OrderStatus.FULFILLED
    assert retried.order.fulfilled_at == first.order.fulfilled_at
    assert retried.item.status == ItemStatus.USED
    assert retried.merchant == merchant
    assert ItemInstance.objects.get(pk=voucher.pk).events.filter(event_type=ItemEventType.USED).count() == 1


def test_a_retried_fulfil_is_recorded_as_a_success(user, voucher, staff):
    issued = order_create(item_id=voucher.pk, user_id=user.pk)
    order_fulfil(code=issued.code, staff_user_id=staff.pk, repeat_gets_original=True)

    order_fulfil(code=issued.code, staff_user_id=staff.pk, repeat_gets_original=True)

    order = RedemptionOrder.objects.get()
    assert list(RedemptionAttempt.objects.values_list("outcome", "order_id")) == [
        (AttemptOutcome.OK, order.pk),
        (AttemptOutcome.OK, order.pk),
    ]


def test_another_staff_user_still_gets_code_already_used(user, voucher, staff, merchant, staff_for):
    issued = order_create(item_id=voucher.pk, user_id=user.pk)
    order_fulfil(code=issued.code, staff_user_id=staff.pk, repeat_gets_original=True)

    with pytest.raises(CodeAlreadyUsed):
        order_fulfil(code=issued.code, staff_user_id=staff_for(merchant).pk, repeat_gets_original=True)


def test_the_same_staff_user_after_the_retry_window_gets_code_already_used(user, voucher, staff, execute_sql):
    issued = order_create(item_id=voucher.pk, user_id=user.pk)
    order_fulfil(code=issued.code, staff_user_id=staff.pk, repeat_gets_original=True)
    execute_sql(
        "UPDATE redemption_orders SET fulfilled_at = fulfilled_at - INTERVAL 11 MINUTE WHERE order_id = %s",
        [issued.order.order_id.hex],
    )

    with override_settings(REDEMPTION_FULFIL_RETRY_SECONDS=600), pytest.raises(CodeAlreadyUsed):
        order_fulfil(code=issued.code, staff_user_id=staff.pk, repeat_gets_original=True)


def test_without_asking_for_it_a_repeat_is_refused_as_already_used(user, voucher, staff):
    issued = order_create(item_id=voucher.pk, user_id=user.pk)
    order_fulfil(code=issued.code, staff_user_id=staff.pk)

    with pytest.raises(CodeAlreadyUsed):
        order_fulfil(code=issued.code, staff_user_id=staff.pk)


def test_a_retried_fulfil_answers_the_original_body_over_the_api(api, client_for, voucher, staff):
    code = api.post(f"/api/v4/items/{voucher.pk}/redemption-orders").json()["code"]
    first = client_for(staff).post(FULFIL, {"code": code}, format="json")

    retried = client_for(staff).post(FULFIL, {"code": code}, format="json")

    assert first.status_code == retried.status_code == 200
    assert retried.json() == first.json()
