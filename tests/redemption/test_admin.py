"""The admin's "Verify redemption code" page, end to end through the Django test client."""

import pytest
from django.test import Client, override_settings

from items.models import ItemStatus
from redemption.codes import code_generate
from redemption.models import OrderStatus, RedemptionAttempt, RedemptionOrder
from redemption.services import order_create
from tests.factories import PASSWORD, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db

VERIFY = "/admin/redemption/codeverification/"


def logged_in(user) -> Client:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


def test_merchant_staff_find_the_page_look_up_confirm_and_see_a_refusal_after(user, staff, give_item):
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


@override_settings(REDEMPTION_FAILURE_LIMIT=3, TRUSTED_PROXIES=["10.0.0.0/8"])
def test_behind_a_trusted_proxy_the_page_counts_each_cashier_by_their_own_address(merchant, give_item, staff_for):
    guesser, colleague = staff_for(merchant), staff_for(merchant)
    behind_the_balancer = {"REMOTE_ADDR": "10.0.0.2"}
    for _ in range(3):
        logged_in(guesser).post(
            VERIFY,
            {"code": code_generate(), "action": "lookup"},
            **behind_the_balancer,
            HTTP_X_FORWARDED_FOR="203.0.113.10",
        )
    customer = UserFactory()
    code = order_create(item_id=give_item(customer).pk, user_id=customer.pk).code

    response = logged_in(colleague).post(
        VERIFY, {"code": code, "action": "lookup"}, **behind_the_balancer, HTTP_X_FORWARDED_FOR="198.51.100.7"
    )

    assert "Confirm and redeem" in response.content.decode()
    assert set(RedemptionAttempt.objects.values_list("ip", flat=True)) == {"203.0.113.10", "198.51.100.7"}
