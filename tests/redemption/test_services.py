from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.test import override_settings
from django.utils import timezone

from items.exceptions import ItemNotAvailable, ItemNotFound
from items.models import ItemEventType, ItemInstance, ItemStatus
from items.services import item_lock, item_unlock
from redemption import limits
from redemption.codes import code_generate
from redemption.exceptions import (
    CodeAlreadyUsed,
    CodeCancelled,
    CodeExpired,
    CodeNotFound,
    CodeTypo,
    InvalidCodeFormat,
    ItemNotRedeemable,
    NotMerchantStaff,
    OrderNotFound,
    OrderNotPending,
    TooManyAttempts,
    WrongMerchant,
)
from redemption.models import AttemptOutcome, OrderStatus, RedemptionAttempt, RedemptionOrder
from redemption.services import order_cancel, order_create, order_fulfil, order_lookup, orders_expire
from tests.factories import MerchantFactory, StaffFactory

pytestmark = pytest.mark.django_db


def typo_of(code: str) -> str:
    """The code with its first character replaced by another one."""
    return ("3" if code[0] != "3" else "4") + code[1:]


def test_create_locks_the_item_for_the_order(user, voucher):
    issued = order_create(item_id=voucher.pk, user_id=user.pk)

    voucher.refresh_from_db()
    assert issued.order.status == OrderStatus.PENDING
    assert voucher.status == ItemStatus.LOCKED
    assert voucher.locked_by == f"redemption:{issued.order.order_id}"
    assert issued.order.customer_id == user.pk


def test_orders_expire_after_the_ttl_or_with_their_item_whichever_is_first(user, give_item):
    soon = timezone.now() + timedelta(days=2)
    short_lived = give_item(user, expires_at=soon)

    with override_settings(REDEMPTION_ORDER_TTL_DAYS=7):
        plain = order_create(item_id=give_item(user).pk, user_id=user.pk).order
        bounded = order_create(item_id=short_lived.pk, user_id=user.pk).order

    assert timedelta(days=7) - timedelta(minutes=1) < plain.expires_at - timezone.now() <= timedelta(days=7)
    assert bounded.expires_at == soon


@pytest.mark.parametrize("item_type", ["equipment", "card"])
def test_only_vouchers_products_and_services_are_redeemable(user, item_type, give_item):
    item = give_item(user, item_type=item_type)

    with pytest.raises(ItemNotRedeemable):
        order_create(item_id=item.pk, user_id=user.pk)

    assert RedemptionOrder.objects.count() == 0


def test_another_users_item_is_not_found(other_user, voucher):
    with pytest.raises(ItemNotFound):
        order_create(item_id=voucher.pk, user_id=other_user.pk)

    voucher.refresh_from_db()
    assert voucher.status == ItemStatus.AVAILABLE


def test_an_expired_item_gets_no_order(user, give_item):
    item = give_item(user, expires_at=timezone.now() - timedelta(minutes=1))

    with pytest.raises(ItemNotAvailable):
        order_create(item_id=item.pk, user_id=user.pk)


def test_an_item_locked_by_a_listing_cannot_get_an_order(user, voucher):
    item_lock(item_id=voucher.pk, locked_by="market:17")

    with pytest.raises(ItemNotAvailable):
        order_create(item_id=voucher.pk, user_id=user.pk)

    assert RedemptionOrder.objects.count() == 0


def test_a_used_item_cannot_get_an_order(user, voucher, staff):
    order_fulfil(code=order_create(item_id=voucher.pk, user_id=user.pk).code, staff_user_id=staff.pk)

    with pytest.raises(ItemNotAvailable):
        order_create(item_id=voucher.pk, user_id=user.pk)


def test_the_database_refuses_a_second_pending_order_for_one_item(user, voucher):
    first = order_create(item_id=voucher.pk, user_id=user.pk).order

    with pytest.raises(IntegrityError), transaction.atomic():
        RedemptionOrder.objects.create(
            code_hash="f" * 64,
            item_instance_id=voucher.pk,
            customer_id=user.pk,
            pending_item_id=voucher.pk,
            expires_at=first.expires_at,
        )


def test_reissue_cancels_the_old_code_and_the_new_one_works(user, voucher, staff):
    old = order_create(item_id=voucher.pk, user_id=user.pk)

    new = order_create(item_id=voucher.pk, user_id=user.pk)

    assert RedemptionOrder.objects.get(pk=old.order.pk).status == OrderStatus.CANCELLED
    with pytest.raises(CodeCancelled):
        order_fulfil(code=old.code, staff_user_id=staff.pk)
    fulfilled = order_fulfil(code=new.code, staff_user_id=staff.pk)
    assert fulfilled.order.order_id == new.order.order_id
    assert fulfilled.item.status == ItemStatus.USED
    events = list(voucher.events.order_by("id").values_list("event_type", flat=True))
    assert events == [
        ItemEventType.GRANTED,
        ItemEventType.LOCKED,
        ItemEventType.UNLOCKED,
        ItemEventType.LOCKED,
        ItemEventType.USED,
    ]


def test_cancel_unlocks_the_item_and_voids_the_code(user, voucher, staff):
    issued = order_create(item_id=voucher.pk, user_id=user.pk)

    cancelled = order_cancel(order_id=issued.order.order_id, user_id=user.pk)

    voucher.refresh_from_db()
    assert cancelled.status == OrderStatus.CANCELLED
    assert voucher.status == ItemStatus.AVAILABLE and voucher.locked_by is None
    with pytest.raises(CodeCancelled):
        order_lookup(code=issued.code, staff_user_id=staff.pk)


def test_cancel_is_only_for_the_customers_pending_orders(user, other_user, voucher):
    issued = order_create(item_id=voucher.pk, user_id=user.pk)

    with pytest.raises(OrderNotFound):
        order_cancel(order_id=issued.order.order_id, user_id=other_user.pk)
    order_cancel(order_id=issued.order.order_id, user_id=user.pk)
    with pytest.raises(OrderNotPending):
        order_cancel(order_id=issued.order.order_id, user_id=user.pk)


def test_lookup_shows_the_item_without_consuming_it(user, voucher, staff, merchant):
    issued = order_create(item_id=voucher.pk, user_id=user.pk)

    found = order_lookup(code=issued.code.lower().replace("-", " "), staff_user_id=staff.pk, ip="10.0.0.1")

    assert found.item.pk == voucher.pk
    assert found.merchant == merchant
    assert RedemptionOrder.objects.get(pk=issued.order.pk).status == OrderStatus.PENDING
    assert ItemInstance.objects.get(pk=voucher.pk).status == ItemStatus.LOCKED
    attempt = RedemptionAttempt.objects.get()
    assert (attempt.kind, attempt.outcome, attempt.order_id, attempt.ip) == (
        "lookup",
        "ok",
        issued.order.pk,
        "10.0.0.1",
    )


def test_fulfil_marks_the_order_fulfilled_and_the_item_used(user, voucher, staff, merchant):
    issued = order_create(item_id=voucher.pk, user_id=user.pk)

    done = order_fulfil(code=issued.code, staff_user_id=staff.pk, ip="10.0.0.1")

    order = RedemptionOrder.objects.get(pk=issued.order.pk)
    assert (order.status, order.redeemer_id, order.merchant_id) == (OrderStatus.FULFILLED, staff.pk, merchant.pk)
    assert order.fulfilled_at is not None and order.pending_item_id is None
    assert done.item.status == ItemStatus.USED
    assert ItemInstance.objects.get(pk=voucher.pk).status == ItemStatus.USED
    assert RedemptionAttempt.objects.get().outcome == AttemptOutcome.OK


def test_a_second_fulfil_says_when_and_where_it_was_used(user, voucher, staff, merchant):
    issued = order_create(item_id=voucher.pk, user_id=user.pk)
    order_fulfil(code=issued.code, staff_user_id=staff.pk)

    with pytest.raises(CodeAlreadyUsed) as refusal:
        order_fulfil(code=issued.code, staff_user_id=staff.pk)

    assert refusal.value.details["merchant"] == merchant.name
    assert refusal.value.details["fulfilled_at"] == RedemptionOrder.objects.get().fulfilled_at.isoformat()
    assert merchant.name in refusal.value.message
    assert ItemInstance.objects.get(pk=voucher.pk).events.filter(event_type=ItemEventType.USED).count() == 1


def test_a_typo_is_told_apart_from_an_unknown_code(user, voucher, staff):
    issued = order_create(item_id=voucher.pk, user_id=user.pk)

    with pytest.raises(CodeTypo):
        order_lookup(code=typo_of(issued.code), staff_user_id=staff.pk)
    with pytest.raises(InvalidCodeFormat):
        order_lookup(code="ABC", staff_user_id=staff.pk)
    with pytest.raises(CodeNotFound):
        order_lookup(code=code_generate(), staff_user_id=staff.pk)
    with pytest.raises(CodeNotFound), override_settings(REDEMPTION_CODE_SECRET="another-secret"):
        order_lookup(code=issued.code, staff_user_id=staff.pk)

    outcomes = list(RedemptionAttempt.objects.order_by("id").values_list("outcome", flat=True))
    assert outcomes == [AttemptOutcome.TYPO, AttemptOutcome.TYPO, AttemptOutcome.NOT_FOUND, AttemptOutcome.NOT_FOUND]


def test_someone_who_is_not_merchant_staff_cannot_verify(user, voucher, staff_for):
    issued = order_create(item_id=voucher.pk, user_id=user.pk)
    inactive = MerchantFactory(active=False)
    former_staff = staff_for(inactive)

    for caller in (StaffFactory(), former_staff, user):
        with pytest.raises(NotMerchantStaff):
            order_fulfil(code=issued.code, staff_user_id=caller.pk)

    assert ItemInstance.objects.get(pk=voucher.pk).status == ItemStatus.LOCKED


def test_a_code_past_its_expiry_is_refused_before_the_task_runs(user, voucher, staff):
    issued = order_create(item_id=voucher.pk, user_id=user.pk)
    RedemptionOrder.objects.filter(pk=issued.order.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    with pytest.raises(CodeExpired):
        order_lookup(code=issued.code, staff_user_id=staff.pk)
    with pytest.raises(CodeExpired):
        order_fulfil(code=issued.code, staff_user_id=staff.pk)

    assert RedemptionOrder.objects.get(pk=issued.order.pk).status == OrderStatus.PENDING
    assert ItemInstance.objects.get(pk=voucher.pk).status == ItemStatus.LOCKED
    assert list(RedemptionAttempt.objects.values_list("outcome", flat=True)) == ["expired", "expired"]


def test_expiry_expires_pending_orders_unlocks_their_items_and_can_run_twice(user, staff, give_item):
    past = timezone.now() - timedelta(seconds=1)
    stale = [order_create(item_id=give_item(user).pk, user_id=user.pk) for _ in range(3)]
    current = order_create(item_id=give_item(user).pk, user_id=user.pk)
    RedemptionOrder.objects.filter(pk__in=[issued.order.pk for issued in stale]).update(expires_at=past)

    first = orders_expire(batch_size=2)
    second = orders_expire(batch_size=2)

    assert (first, second) == (3, 0)
    for issued in stale:
        order = RedemptionOrder.objects.get(pk=issued.order.pk)
        assert (order.status, order.pending_item_id) == (OrderStatus.EXPIRED, None)
        assert order.item_instance.status == ItemStatus.AVAILABLE
        with pytest.raises(CodeExpired):
            order_fulfil(code=issued.code, staff_user_id=staff.pk)
    assert RedemptionOrder.objects.get(pk=current.order.pk).status == OrderStatus.PENDING
    assert current.order.item_instance.status == ItemStatus.LOCKED


def test_an_expired_order_lets_the_item_get_a_new_code(user, voucher, staff):
    issued = order_create(item_id=voucher.pk, user_id=user.pk)
    RedemptionOrder.objects.filter(pk=issued.order.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    orders_expire()

    again = order_create(item_id=voucher.pk, user_id=user.pk)

    assert order_fulfil(code=again.code, staff_user_id=staff.pk).item.status == ItemStatus.USED


def test_staff_of_another_merchant_cannot_fulfil_a_restricted_item(
    user, merchant, other_merchant, staff, give_item, staff_for
):
    item = give_item(user, merchant_code=other_merchant.code)
    issued = order_create(item_id=item.pk, user_id=user.pk)

    with pytest.raises(WrongMerchant):
        order_fulfil(code=issued.code, staff_user_id=staff.pk)
    done = order_fulfil(code=issued.code, staff_user_id=staff_for(other_merchant).pk)

    assert done.merchant == other_merchant
    assert RedemptionAttempt.objects.order_by("id").first().outcome == AttemptOutcome.WRONG_MERCHANT


def test_staff_of_several_merchants_redeem_where_the_item_belongs(user, merchant, other_merchant, staff, give_item):
    other_merchant.staff.add(staff)
    item = give_item(user, merchant_code=other_merchant.code)

    done = order_fulfil(code=order_create(item_id=item.pk, user_id=user.pk).code, staff_user_id=staff.pk)

    assert done.order.merchant == other_merchant


@override_settings(REDEMPTION_FAILURE_LIMIT=3, REDEMPTION_FAILURE_WINDOW_SECONDS=600)
def test_failures_lock_the_staff_user_out_until_the_window_passes(user, voucher, staff, monkeypatch):
    issued = order_create(item_id=voucher.pk, user_id=user.pk)
    now = 1_000_000 * 600.0
    monkeypatch.setattr(limits, "clock", lambda: now)
    for _ in range(3):
        with pytest.raises(CodeTypo):
            order_lookup(code=typo_of(issued.code), staff_user_id=staff.pk, ip="10.0.0.1")

    with pytest.raises(TooManyAttempts) as refusal:
        order_fulfil(code=issued.code, staff_user_id=staff.pk, ip="10.0.0.2")
    assert refusal.value.status == 429
    assert refusal.value.code == "too_many_attempts"
    assert ItemInstance.objects.get(pk=voucher.pk).status == ItemStatus.LOCKED

    monkeypatch.setattr(limits, "clock", lambda: now + 600)
    assert order_fulfil(code=issued.code, staff_user_id=staff.pk, ip="10.0.0.2").item.status == ItemStatus.USED
    outcomes = list(RedemptionAttempt.objects.order_by("id").values_list("outcome", flat=True))
    assert outcomes == ["typo", "typo", "typo", "throttled", "ok"]


@override_settings(REDEMPTION_FAILURE_LIMIT=3)
def test_failures_from_one_ip_lock_out_every_staff_user_behind_it(user, voucher, merchant, staff, staff_for):
    issued = order_create(item_id=voucher.pk, user_id=user.pk)
    colleague = staff_for(merchant)
    for caller in (staff, colleague, staff):
        with pytest.raises(CodeTypo):
            order_lookup(code=typo_of(issued.code), staff_user_id=caller.pk, ip="10.0.0.9")

    with pytest.raises(TooManyAttempts):
        order_lookup(code=issued.code, staff_user_id=colleague.pk, ip="10.0.0.9")
    assert order_lookup(code=issued.code, staff_user_id=colleague.pk, ip="10.0.0.10").order.pk == issued.order.pk


def test_successes_do_not_count_towards_the_limit(user, staff, give_item):
    with override_settings(REDEMPTION_FAILURE_LIMIT=2):
        for _ in range(3):
            issued = order_create(item_id=give_item(user).pk, user_id=user.pk)
            order_lookup(code=issued.code, staff_user_id=staff.pk, ip="10.0.0.1")
            order_fulfil(code=issued.code, staff_user_id=staff.pk, ip="10.0.0.1")

    assert RedemptionAttempt.objects.filter(outcome="ok").count() == 6


def test_an_order_id_from_a_foreign_lock_holder_is_not_replaced(user, voucher):
    item_lock(item_id=voucher.pk, locked_by="redemption:not-a-uuid")

    with pytest.raises(ItemNotAvailable):
        order_create(item_id=voucher.pk, user_id=user.pk)

    item_unlock(item_id=voucher.pk, locked_by="redemption:not-a-uuid")
    assert order_create(item_id=voucher.pk, user_id=user.pk).order.status == OrderStatus.PENDING


def test_staff_of_several_merchants_may_say_where_they_are(user, merchant, other_merchant, staff, give_item):
    other_merchant.staff.add(staff)
    issued = order_create(item_id=give_item(user).pk, user_id=user.pk)

    with pytest.raises(NotMerchantStaff):
        order_lookup(code=issued.code, staff_user_id=staff.pk, merchant_code="ELSEWHERE")
    done = order_fulfil(code=issued.code, staff_user_id=staff.pk, merchant_code=merchant.code)

    assert done.order.merchant == merchant
