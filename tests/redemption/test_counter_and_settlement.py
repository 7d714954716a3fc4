"""The counter's money and totals, and the operators' settlement report, through the admin URLs."""

import csv
import importlib
import io
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from items.models import ItemInstance
from items.services import item_grant
from redemption.models import RedemptionOrder
from redemption.services import order_create, order_fulfil
from tests.factories import PASSWORD, StaffFactory

pytestmark = pytest.mark.django_db

VERIFY = "/admin/redemption/codeverification/"
SETTLEMENT = "/admin/redemption/merchant/settlement/"
_refs = iter(range(1, 10**6))


def logged_in(user) -> Client:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


@pytest.fixture
def redeem(issuer):
    def redeem(customer, staff, *, name="Set lunch", value=3800, item_type="voucher", days_ago=0) -> RedemptionOrder:
        """A voucher redeemed through the services, its fulfilment dated `days_ago` days back."""
        item, _ = item_grant(
            actor=issuer,
            owner_id=customer.pk,
            item_type=item_type,
            name=name,
            source="test",
            source_ref=f"settle-{next(_refs)}",
            meta={"value": value},
        )
        code = order_create(item_id=item.pk, user_id=customer.pk).code
        order = order_fulfil(code=code, staff_user_id=staff.pk).order
        if days_ago:
            RedemptionOrder.objects.filter(pk=order.pk).update(fulfilled_at=timezone.now() - timedelta(days=days_ago))
        return order

    return redeem


def test_the_verify_page_shows_the_value_as_money(user, staff, give_item):
    voucher = give_item(user, name="Beef noodles")  # meta.value 3800
    code = order_create(item_id=voucher.pk, user_id=user.pk).code

    page = logged_in(staff).post(VERIFY, {"code": code, "action": "lookup"}).content.decode()

    assert '<td id="item-value">¥38.00</td>' in page


def test_the_currency_comes_from_settings(user, staff, settings, give_item):
    settings.CURRENCY_SYMBOL = "$"
    code = order_create(item_id=give_item(user).pk, user_id=user.pk).code

    page = logged_in(staff).post(VERIFY, {"code": code, "action": "lookup"}).content.decode()

    assert '<td id="item-value">$38.00</td>' in page


def test_the_admin_lists_show_values_as_money(user, staff, redeem):
    redeem(user, staff, value=1250)
    admin_client = logged_in(StaffFactory(is_superuser=True))

    orders = admin_client.get("/admin/redemption/redemptionorder/").content.decode()
    items = admin_client.get("/admin/items/iteminstance/").content.decode()

    assert "¥12.50" in orders and "¥12.50" in items


def test_merchant_staff_see_today_and_this_month_on_the_counter(user, staff, merchant, redeem):
    redeem(user, staff, value=3800)
    redeem(user, staff, value=1200)
    if timezone.localdate().day > 1:  # earlier this month, not today
        redeem(user, staff, value=500, days_ago=1)
    redeem(user, staff, value=9900, days_ago=40)  # an earlier month

    response = logged_in(staff).get(VERIFY)

    [row] = response.context["counter_totals"]
    assert set(row) == {"id", "code", "name", "today_count", "today_value", "month_count", "month_value"}
    assert row["code"] == merchant.code
    assert (row["today_count"], row["today_value"]) == (2, 5000)
    earlier = 1 if timezone.localdate().day > 1 else 0
    assert (row["month_count"], row["month_value"]) == (2 + earlier, 5000 + 500 * earlier)
    assert "2 · ¥50.00" in response.content.decode()


def test_the_counter_totals_take_the_same_queries_for_any_number_of_redemptions(
    user, staff, django_assert_num_queries, redeem
):
    client = logged_in(staff)
    redeem(user, staff)
    with CaptureQueriesContext(connection) as few:
        client.get(VERIFY)
    for _ in range(6):
        redeem(user, staff)

    with django_assert_num_queries(len(few.captured_queries)):
        client.get(VERIFY)


def test_the_settlement_report_gives_a_merchants_count_and_face_value_by_voucher(user, staff, merchant, redeem):
    redeem(user, staff, name="Set lunch", value=3800)
    redeem(user, staff, name="Set lunch", value=3800)
    redeem(user, staff, name="Tea", value=900, item_type="product")
    redeem(user, staff, name="Set lunch", value=3800, days_ago=60)  # outside the period
    today = timezone.localdate()
    client = logged_in(StaffFactory(is_superuser=True))

    response = client.get(SETTLEMENT, {"merchant": merchant.pk, "start": today - timedelta(days=7), "end": today})

    assert response.status_code == 200
    assert response.context["rows"] == [
        {"item_type": "product", "name": "Tea", "count": 1, "face_value": 900},
        {"item_type": "voucher", "name": "Set lunch", "count": 2, "face_value": 7600},
    ]
    html = response.content.decode()
    assert '<th id="settlement-count">3</th>' in html and '<th id="settlement-value">¥85.00</th>' in html


def test_the_settlement_report_exports_csv(user, staff, merchant, redeem):
    redeem(user, staff, name="Set lunch", value=3800)
    today = timezone.localdate()
    client = logged_in(StaffFactory(is_superuser=True))

    response = client.get(SETTLEMENT, {"merchant": merchant.pk, "start": today, "end": today, "export": "csv"})

    assert response["Content-Type"].startswith("text/csv")
    assert f"settlement-{merchant.code}-{today}-{today}.csv" in response["Content-Disposition"]
    lines = list(csv.reader(io.StringIO(response.content.decode())))
    assert lines[0] == [
        "merchant_code", "merchant_name", "from", "to", "item_type", "voucher", "count", "face_value_minor", "face_value"
    ]  # fmt: skip
    assert lines[1][4:] == ["voucher", "Set lunch", "1", "3800", "38.00"]
    assert lines[-1][4:] == ["TOTAL", "", "1", "3800", "38.00"]


def test_the_report_for_all_merchants_has_one_line_each(user, staff, merchant, other_merchant, redeem, staff_for):
    redeem(user, staff, value=3800)
    redeem(user, staff_for(other_merchant), value=100)
    redeem(user, staff_for(other_merchant), value=200)

    response = logged_in(StaffFactory(is_superuser=True)).get(SETTLEMENT)

    rows = [(row["code"], row["count"], row["face_value"]) for row in response.context["rows"]]
    assert rows == [(other_merchant.code, 2, 300), (merchant.code, 1, 3800)]


def test_settlement_queries_do_not_grow_with_the_redemptions(user, staff, merchant, django_assert_num_queries, redeem):
    client = logged_in(StaffFactory(is_superuser=True))
    query = {"merchant": merchant.pk, "start": timezone.localdate(), "end": timezone.localdate()}
    redeem(user, staff)
    with CaptureQueriesContext(connection) as few:
        client.get(SETTLEMENT, query)
    for n in range(6):
        redeem(user, staff, name=f"Voucher {n % 3}")

    with django_assert_num_queries(len(few.captured_queries)):
        client.get(SETTLEMENT, query)


def test_a_period_that_ends_before_it_starts_is_refused_on_the_page():
    today = timezone.localdate()
    client = logged_in(StaffFactory(is_superuser=True))

    response = client.get(SETTLEMENT, {"start": today, "end": today - timedelta(days=1)})

    assert response.status_code == 200
    assert "The period ends before it starts." in response.content.decode()


def test_merchant_staff_cannot_open_the_settlement_report(staff):
    assert logged_in(staff).get(SETTLEMENT).status_code == 403


def test_the_merchant_list_links_to_the_report():
    html = logged_in(StaffFactory(is_superuser=True)).get("/admin/redemption/merchant/").content.decode()

    assert f'href="{SETTLEMENT}"' in html


def test_a_fulfilled_order_keeps_the_face_value_it_was_redeemed_for(user, staff, issuer, redeem):
    order = redeem(user, staff, value=3800)
    item, _ = item_grant(
        actor=issuer,
        owner_id=user.pk,
        item_type="voucher",
        name="Odd",
        source="test",
        source_ref="odd",
    )
    ItemInstance.objects.filter(pk=item.pk).update(meta={"value": "38元"})  # an old row: grants refuse it now
    odd = order_fulfil(code=order_create(item_id=item.pk, user_id=user.pk).code, staff_user_id=staff.pk).order

    assert RedemptionOrder.objects.get(pk=order.pk).face_value == 3800
    assert RedemptionOrder.objects.get(pk=odd.pk).face_value is None


def test_the_migration_records_the_face_value_of_orders_fulfilled_before_it(user, staff, redeem):
    from django.apps import apps

    migration = importlib.import_module("redemption.migrations.0003_order_face_value")
    order = redeem(user, staff, value=2600)
    RedemptionOrder.objects.filter(pk=order.pk).update(face_value=None)

    migration.record_face_values(apps, None)

    assert RedemptionOrder.objects.get(pk=order.pk).face_value == 2600
