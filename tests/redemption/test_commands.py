from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.utils import timezone

from backpack_site.schedule import PERIODIC_TASKS
from items.models import ItemInstance, ItemStatus
from redemption.models import Merchant, OrderStatus, RedemptionOrder
from redemption.services import order_create, order_fulfil
from redemption.tasks import expire_redemption_orders

pytestmark = pytest.mark.django_db


def test_the_command_expires_what_is_due(user, give_item):
    issued = order_create(item_id=give_item(user).pk, user_id=user.pk)
    RedemptionOrder.objects.filter(pk=issued.order.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    out = StringIO()

    call_command("expire_redemption_orders", stdout=out)

    assert out.getvalue().strip() == "expired 1 redemption order(s)"
    assert RedemptionOrder.objects.get().status == OrderStatus.EXPIRED


def test_the_hourly_task_is_declared_and_runs(user, give_item):
    issued = order_create(item_id=give_item(user).pk, user_id=user.pk)
    RedemptionOrder.objects.filter(pk=issued.order.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    declared = [p for p in PERIODIC_TASKS if p.task == "redemption.tasks.expire_redemption_orders"]

    assert len(declared) == 1 and declared[0].hour == "*"
    assert expire_redemption_orders() == 1
    assert expire_redemption_orders() == 0


def test_seed_demo_gives_a_merchant_its_staff_login_and_alice_a_voucher_for_it(settings):
    settings.DEBUG = True

    call_command("seed_demo", stdout=StringIO())
    call_command("seed_demo", stdout=StringIO())

    users = get_user_model().objects
    merchant = Merchant.objects.get(code="DEMO01")
    staff, alice = users.get(username="merchant"), users.get(username="alice")
    voucher = ItemInstance.objects.get(owner=alice, merchant_code="DEMO01")
    assert list(merchant.staff.all()) == [staff]
    assert staff.has_perm("redemption.verify_code")
    code = order_create(item_id=voucher.pk, user_id=alice.pk).code
    assert order_fulfil(code=code, staff_user_id=staff.pk).item.status == ItemStatus.USED
