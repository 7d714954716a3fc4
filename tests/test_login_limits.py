"""Password logins are limited per username and per client IP; refresh tokens work once (SPEC §8, issue 12)."""

import pytest
from django.core.cache import cache
from django.test import override_settings
from rest_framework.test import APIClient

from core import tokens
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

TOKEN = "/api/v4/auth/token"
REFRESH = "/api/v4/auth/token/refresh"


@pytest.fixture(autouse=True)
def fresh_counters(monkeypatch):
    cache.clear()
    now = 1_000_000 * 900.0
    monkeypatch.setattr(tokens, "clock", lambda: now)
    yield
    cache.clear()


def login(username, password, ip="203.0.113.7", **headers):
    client = APIClient(raise_request_exception=False)
    return client.post(TOKEN, {"username": username, "password": password}, format="json", REMOTE_ADDR=ip, **headers)


def test_forty_wrong_passwords_then_the_right_one_is_a_429_with_retry_after():
    user = UserFactory()
    statuses = [login(user.username, "wrong").status_code for _ in range(40)]

    response = login(user.username, PASSWORD)

    assert statuses[:10] == [401] * 10 and set(statuses[10:]) == {429}
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "too_many_login_attempts"
    assert 0 < int(response["Retry-After"]) <= 900
    assert response.json()["error"]["details"]["retry_after_seconds"] == int(response["Retry-After"])


def test_the_username_is_counted_whatever_its_case():
    UserFactory(username="alice")
    for name in ("alice", "ALICE", " Alice ", "aLiCe") * 3:
        login(name, "wrong", ip=f"198.51.100.{len(name)}")

    assert login("alice", PASSWORD).status_code == 429


@override_settings(LOGIN_IP_FAILURE_LIMIT=5)
def test_one_ip_guessing_many_usernames_is_stopped():
    users = [UserFactory() for _ in range(6)]
    for guessed in users[:5]:
        login(guessed.username, "wrong")

    assert login(users[5].username, PASSWORD).status_code == 429
    assert login(users[5].username, PASSWORD, ip="203.0.113.8").status_code == 200


def test_the_window_passing_lets_the_user_in_again(monkeypatch):
    user = UserFactory()
    for _ in range(10):
        login(user.username, "wrong")
    assert login(user.username, PASSWORD).status_code == 429

    monkeypatch.setattr(tokens, "clock", lambda: 1_000_001 * 900.0)

    assert login(user.username, PASSWORD).status_code == 200


def test_successful_logins_do_not_count():
    user = UserFactory()

    statuses = {login(user.username, PASSWORD).status_code for _ in range(15)}

    assert statuses == {200}


@override_settings(TRUSTED_PROXIES=["10.0.0.0/8"], LOGIN_IP_FAILURE_LIMIT=3)
def test_behind_a_trusted_proxy_the_forwarded_client_is_counted_not_the_proxy():
    for _ in range(3):
        login(UserFactory().username, "wrong", ip="10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.50")

    guesser = login(UserFactory().username, PASSWORD, ip="10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.50")
    cashier = login(UserFactory().username, PASSWORD, ip="10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.51")

    assert (guesser.status_code, cashier.status_code) == (429, 200)


def test_a_refresh_token_works_once():
    user = UserFactory()
    refresh = login(user.username, PASSWORD).json()["refresh"]
    client = APIClient(raise_request_exception=False)

    first = client.post(REFRESH, {"refresh": refresh}, format="json")
    again = client.post(REFRESH, {"refresh": refresh}, format="json")
    rotated = client.post(REFRESH, {"refresh": first.json()["refresh"]}, format="json")

    assert first.status_code == 200 and set(first.json()) == {"access", "refresh"}
    assert again.status_code == 401
    assert again.json()["error"]["code"] == "token_not_valid"
    assert rotated.status_code == 200
