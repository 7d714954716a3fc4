"""Password logins are limited per account, per spelling and per client IP; refresh tokens work once (SPEC §8,
issues 12 and 20)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.test import override_settings
from rest_framework.test import APIClient

from core import tokens
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent
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


# Every way to write `victim` a database might find equal to it: case, accents, widths, spaces.
SPELLINGS = (
    "victim",
    "Victim",
    "VICTIM",
    "victim ",
    " victim",
    "vìctim",
    "víctim",
    "vïctim",
    "VÍCTIM",
    "ｖｉｃｔｉｍ",
    "ＶＩＣＴＩＭ",
    "victim\u00a0",
)


def after_the_limit(*, account_exists: bool, failing_with: tuple[str, ...] = ()) -> dict[str, tuple[int, bool]]:
    """Ten wrong passwords for `victim`, spread over `failing_with` (by default the spellings that reach the
    account), each from its own IP; then the right password under every spelling, from other IPs:
    {spelling: (status, whether the database finds the account under it)}."""
    cache.clear()
    users = get_user_model().objects
    users.filter(username="victim").delete()
    if account_exists:
        users.create_user(username="victim", password=PASSWORD)
    reaching = [spelling for spelling in SPELLINGS if users.filter(username=spelling.strip()).exists()]
    failing_with = failing_with or tuple(reaching)
    for attempt in range(10):
        login(failing_with[attempt % len(failing_with)], "wrong", ip=f"198.51.100.{attempt}")
    return {
        spelling: (login(spelling, PASSWORD, ip=f"203.0.113.{n}").status_code, spelling in reaching)
        for n, spelling in enumerate(SPELLINGS)
    }


def rule_broken(statuses: dict[str, tuple[int, bool]]) -> list[str]:
    """The spellings that break the rule: one that reaches the account and is not refused with a 429, or
    one that does not and is neither the 401 of a wrong name nor a 429 (its spelling, case-folded, is limited)."""
    return [
        f"{spelling!r}: {status}"
        for spelling, (status, reaches) in statuses.items()
        if status not in ({429} if reaches else {401, 429})
    ]


def test_after_the_limit_every_spelling_that_reaches_the_account_is_a_429_on_mariadb():
    statuses = after_the_limit(account_exists=True)

    assert rule_broken(statuses) == []
    # The suite's collation, like production's utf8mb4_general_ci, ignores accents: the bypass.
    assert all(statuses[spelling] == (429, True) for spelling in ("vìctim", "víctim", "vïctim", "VÍCTIM", "victim "))


def test_a_name_nobody_has_is_limited_exactly_like_one_somebody_has():
    accents = ("víctim", "vìctim", "vïctim", "VÍCTIM", "Victim")

    for_nobody = after_the_limit(account_exists=False, failing_with=accents)
    for_somebody = after_the_limit(account_exists=True, failing_with=accents)

    assert [status for status, _ in for_nobody.values()] == [status for status, _ in for_somebody.values()]
    assert for_somebody["victim"] == (429, True)


SQLITE_RUN = """
import django
django.setup()
from django.core.management import call_command
from django.test.utils import setup_test_environment
setup_test_environment()
call_command("migrate", verbosity=0)
from core import tokens
tokens.clock = lambda: 1_000_000 * 900.0
from tests.test_login_limits import after_the_limit, rule_broken
statuses = after_the_limit(account_exists=True)
print(rule_broken(statuses) or "as the rule says")
print(statuses["víctim"], statuses["Victim"])
"""


def test_after_the_limit_every_spelling_that_reaches_the_account_is_a_429_on_sqlite(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(SQLITE_PATH=str(tmp_path / "db.sqlite3"), DEBUG="1", DJANGO_SETTINGS_MODULE="backpack_site.settings")
    run = subprocess.run(
        [sys.executable, "-c", SQLITE_RUN], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )

    assert run.returncode == 0, run.stderr[-3000:]
    # SQLite compares names byte for byte: an accent is another (missing) account; the spelling limit covers case.
    assert run.stdout.strip().splitlines()[-2:] == ["as the rule says", "(401, False) (429, False)"], run.stdout


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
