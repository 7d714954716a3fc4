import pytest
from django.urls import reverse

from items.models import ItemEventType, ItemInstance, ItemStatus
from items.services import item_grant
from tests.factories import ItemFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    admin = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(admin)
    client.admin = admin
    return client


def test_item_list_and_detail_render_with_history(admin_client):
    item, _ = item_grant(
        actor=admin_client.admin,
        owner_id=UserFactory().pk,
        item_type="card",
        name="Golden ticket",
        source="t",
        source_ref="1",
    )

    listing = admin_client.get(reverse("admin:items_iteminstance_changelist"), {"q": "Golden"})
    detail = admin_client.get(reverse("admin:items_iteminstance_change", args=[item.pk]))

    assert listing.status_code == 200 and b"Golden ticket" in listing.content
    assert detail.status_code == 200 and b"Granted" in detail.content


def test_add_form_grants_through_the_service_once_however_often_it_is_submitted(admin_client):
    owner = UserFactory()
    form = {"owner": owner.pk, "item_type": "voucher", "name": "Apology voucher", "meta": '{"value": 500}'}
    form["grant_key"] = (
        admin_client.get(reverse("admin:items_iteminstance_add")).context["adminform"].form["grant_key"].value()
    )

    response = admin_client.post(reverse("admin:items_iteminstance_add"), form)
    double_submit = admin_client.post(reverse("admin:items_iteminstance_add"), form)

    assert response.status_code == double_submit.status_code == 302
    item = ItemInstance.objects.get(name="Apology voucher")
    assert (item.owner, item.source, item.meta) == (owner, "admin", {"value": 500})
    assert item.events.get().actor == admin_client.admin


def test_expire_now_action_expires_available_items_and_reports_the_rest(admin_client):
    available, used = ItemFactory(), ItemFactory(status=ItemStatus.USED)

    response = admin_client.post(
        reverse("admin:items_iteminstance_changelist"),
        {"action": "expire_now", "_selected_action": [available.pk, used.pk]},
        follow=True,
    )

    available.refresh_from_db()
    assert available.status == ItemStatus.EXPIRED
    assert available.events.filter(event_type=ItemEventType.EXPIRED, actor=admin_client.admin).exists()
    assert b"Expired 1 item(s)." in response.content
    assert f"#{used.pk}: used".encode() in response.content
