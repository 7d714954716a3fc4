"""The admin's "Verify redemption code" page, end to end through the Django test client."""

import pytest
from django.test import Client

from items.models import ItemStatus
from redemption.models import OrderStatus, RedemptionOrder
from redemption.services import order_create
from tests.conftest import give_item
from tests.factories import PASSWORD, StaffFactory

pytestmark = pytest.mark.django_db

VERIFY = "/admin/redemption/codeverification/"


def logged_in(user) -> Client:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


def test_merchant_staff_find_the_page_look_up_confirm_and_see_a_refusal_after(user, staff):
    voucher = give_item(user, name="Beef noodles")
    code = order_create(item_id=voucher.pk, user_id=user.pk).code
    client = logged_in(staff)

    index = client.get("/admin/")
    looked_up = client.post(VERIFY, {"code": code.lower(), "action": "lookup"})
    status_after_lookup = RedemptionOrder.objects.get().status
    confirmed = client.post(VERIFY, {"code": code, "action": "confirm"}, follow=True)
    again = client.post(VERIFY, {"code": code, "action": "confirm"})

    assert index.status_code == 200
    assert VERIFY in index.content.decode()
    assert looked_up.status_code == 200
    page = looked_up.content.decode()
    assert "Beef noodles" in page and "Pending" in page and "Confirm and redeem" in page
    assert status_after_lookup == OrderStatus.PENDING
    assert confirmed.status_code == 200
    assert "Redeemed: Beef noodles" in confirmed.content.decode()
    voucher.refresh_from_db()
    assert voucher.status == ItemStatus.USED
    assert RedemptionOrder.objects.get().redeemer == staff
    assert again.status_code == 200
    assert "Refused: The code was already used at" in again.content.decode()
    assert "Confirm and redeem" not in again.content.decode()


def test_a_typo_is_refused_on_the_page(staff):
    client = logged_in(staff)

    response = client.post(VERIFY, {"code": "2345-6789-ABCD", "action": "lookup"})

    assert response.status_code == 200
    assert "Refused: The code has a typo" in response.content.decode()


def test_merchant_staff_see_only_the_verify_page_in_the_admin(staff):
    client = logged_in(staff)

    assert client.get("/admin/redemption/redemptionorder/").status_code == 403
    assert client.get("/admin/redemption/merchant/").status_code == 403
    assert client.get("/admin/items/").status_code in (403, 404)
    assert set(staff.get_all_permissions()) == {"redemption.verify_code"}


def test_staff_without_the_permission_cannot_open_the_page():
    client = logged_in(StaffFactory())

    assert client.get(VERIFY).status_code == 403


def test_customers_are_sent_to_the_login_page(user):
    response = logged_in(user).get(VERIFY)

    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_staff_an_admin_adds_to_a_merchant_get_the_verify_permission():
    admin_user = StaffFactory(is_superuser=True)
    cashier = StaffFactory()

    response = logged_in(admin_user).post(
        "/admin/redemption/merchant/add/",
        {"code": "TEAHOUSE", "name": "Tea House", "active": "on", "staff": [cashier.pk]},
    )

    assert response.status_code == 302
    cashier = type(cashier).objects.get(pk=cashier.pk)
    assert cashier.has_perm("redemption.verify_code")
    assert list(cashier.merchants.values_list("code", flat=True)) == ["TEAHOUSE"]
