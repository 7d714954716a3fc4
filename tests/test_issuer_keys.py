"""The prize issuer's API keys: shown once, stored hashed, revocable and rotatable."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from core.models import IssuerKey
from core.services import issuer_key_create, issuer_key_rotate
from tests.factories import IssuerFactory, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db


def grant_with(key: str, user, business_id="k-1"):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    body = {"user_id": user.pk, "asset_code": "DIAMOND", "amount": 5, "business_type": "prize"}
    return client.post("/api/v4/grants/assets", {**body, "business_id": business_id}, format="json")


@pytest.fixture
def issuer_key(db):
    issuer = IssuerFactory()
    record, key = issuer_key_create(issuer_id=issuer.pk, name="lottery engine")
    return record, key


def test_a_key_acts_as_its_issuer_and_is_stored_only_hashed(issuer_key, user):
    record, key = issuer_key

    response = grant_with(key, user)

    assert response.status_code == 201
    assert key not in str(IssuerKey.objects.filter(pk=record.pk).values().get())


@pytest.mark.parametrize("spoil", ["revoke", "expire", "deactivate", "garble"])
def test_a_revoked_expired_or_unknown_key_is_a_401_and_grants_nothing(issuer_key, user, spoil):
    record, key = issuer_key
    if spoil == "revoke":
        IssuerKey.objects.filter(pk=record.pk).update(revoked=True)
    elif spoil == "expire":
        IssuerKey.objects.filter(pk=record.pk).update(expiry_date=timezone.now() - timedelta(seconds=1))
    elif spoil == "deactivate":
        type(record.issuer).objects.filter(pk=record.issuer_id).update(is_active=False)
    else:
        key = key[:-1] + ("A" if key[-1] != "A" else "B")

    response = grant_with(key, user)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"


def test_rotation_revokes_the_old_key_and_the_new_one_works(issuer_key, user):
    record, old = issuer_key

    _, new = issuer_key_rotate(key_id=record.pk)

    assert grant_with(old, user).status_code == 401
    assert grant_with(new, user, business_id="k-2").status_code == 201


def test_a_key_of_a_customer_account_grants_nothing(user):
    _, key = issuer_key_create(issuer_id=UserFactory().pk, name="not an issuer")

    assert grant_with(key, user).status_code == 403


def test_the_admin_shows_a_new_key_once(client):
    client.force_login(StaffFactory(is_superuser=True))
    issuer = IssuerFactory()

    response = client.post(
        reverse("admin:core_issuerkey_add"), {"name": "engine", "issuer": issuer.pk, "revoked": ""}, follow=True
    )

    shown = [str(m) for m in response.context["messages"]]
    record = IssuerKey.objects.get(issuer=issuer)
    assert any(record.prefix in m and "not shown again" in m for m in shown)
    assert client.get(reverse("admin:core_issuerkey_change", args=[record.pk])).content.count(b"not shown again") == 0
