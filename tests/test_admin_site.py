"""The admin as the back office: its name, its index, and where merchant staff land."""

import pytest
from django.test import Client

from tests.factories import PASSWORD, MerchantFactory, StaffFactory

pytestmark = pytest.mark.django_db

VERIFY = "/admin/redemption/codeverification/"


def log_in(client: Client, user, **extra):
    """The login form as the admin renders it: its hidden `next` is the index unless a page asked for another."""
    return client.post("/admin/login/", {"username": user.username, "password": PASSWORD, "next": "/admin/", **extra})


def test_the_admin_is_branded_as_the_back_office(client):
    client.force_login(StaffFactory(is_superuser=True))

    html = client.get("/admin/").content.decode()

    assert "Backpack back office" in html and "Django administration" not in html
    assert "<title>Back office | Backpack back office</title>" in html


def test_the_index_links_the_operations_dashboard_prices_and_settlement(client):
    client.force_login(StaffFactory(is_superuser=True))

    html = client.get("/admin/").content.decode()

    assert 'href="/admin/operations/reconciliationrun/dashboard/"' in html
    assert 'href="/admin/market/markettrade/prices/"' in html
    assert 'href="/admin/redemption/merchant/settlement/"' in html


def test_merchant_staff_land_on_the_verify_page_after_logging_in(client, staff_for):
    staff = staff_for(MerchantFactory())

    response = log_in(client, staff)

    assert response.status_code == 302
    assert response["Location"] == VERIFY


def test_merchant_staff_asking_for_another_page_go_there(client, staff_for):
    staff = staff_for(MerchantFactory())

    response = log_in(client, staff, next="/admin/password_change/")

    assert response["Location"] == "/admin/password_change/"


def test_operators_land_on_the_index(client):
    response = log_in(client, StaffFactory(is_superuser=True))

    assert response["Location"] == "/admin/"


def test_a_failed_login_stays_on_the_form(client, staff_for):
    staff = staff_for(MerchantFactory())

    response = client.post("/admin/login/", {"username": staff.username, "password": "wrong"})

    assert response.status_code == 200
