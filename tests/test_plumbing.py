import pytest
from django.core.exceptions import ImproperlyConfigured
from rest_framework.mixins import ListModelMixin
from rest_framework.response import Response

from core.viewsets import ApiRouter, ApiViewSet
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


def test_jwt_token_gives_access_and_refreshes(client):
    user = UserFactory()

    tokens = client.post(
        "/api/v4/auth/token", {"username": user.username, "password": PASSWORD}, content_type="application/json"
    ).json()
    assets = client.get("/api/v4/assets", headers={"Authorization": f"Bearer {tokens['access']}"})
    refreshed = client.post(
        "/api/v4/auth/token/refresh", {"refresh": tokens["refresh"]}, content_type="application/json"
    )

    assert assets.status_code == 200
    assert refreshed.status_code == 200
    assert "access" in refreshed.json()


def test_wrong_password_is_a_401_in_the_error_format(client):
    user = UserFactory()

    response = client.post(
        "/api/v4/auth/token", {"username": user.username, "password": "wrong"}, content_type="application/json"
    )

    assert response.status_code == 401
    assert set(response.json()["error"]) == {"code", "message", "details"}


def test_a_bad_token_is_a_401(client):
    response = client.get("/api/v4/assets", headers={"Authorization": "Bearer not-a-token"})

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "token_not_valid"


def test_healthz_checks_the_database(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_healthz_never_shows_the_databases_error(client, monkeypatch, caplog):
    from django.db import OperationalError, connection

    def refuse():
        raise OperationalError("(2002) Can't connect to server on 'db-primary.internal' (115)")

    monkeypatch.setattr(connection, "cursor", refuse)

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json() == {"status": "unavailable"}
    assert "db-primary.internal" in caplog.text  # the reason is in the log


def test_openapi_schema_and_docs_are_served(client):
    schema = client.get("/api/schema/")
    docs = client.get("/api/docs/")

    assert schema.status_code == 200
    assert b"/api/v4/grants/assets" in schema.content
    assert docs.status_code == 200
    assert b"cdn" not in docs.content.lower()
    bundle = client.get("/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")
    assert bundle.status_code == 200


def test_the_router_refuses_a_viewset_whose_show_shares_a_url_with_its_list():
    class Clashing(ListModelMixin, ApiViewSet):
        def show(self, request):
            return Response({})

    router = ApiRouter()
    router.register("clashing", Clashing, basename="clashing")

    with pytest.raises(ImproperlyConfigured, match="`show` would share its URL"):
        router.get_urls()
