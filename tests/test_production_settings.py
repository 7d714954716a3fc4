"""Settings are safe by default (SPEC §8, STYLE 9; issue 12): DEBUG is off unless asked for, production refuses to
start half-configured, and `manage.py check --deploy` is clean with production settings."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION = {
    "DJANGO_SETTINGS_MODULE": "backpack_site.settings",
    # What a generated key looks like: long and varied (manage.py check --deploy tells).
    "SECRET_KEY": "x7#Lq9!vR2@mZ4$wT8^kP1&nB6*cY3(hJ5)dF0-gSu2%eW9+aQ4=rN7~tV1",
    "REDEMPTION_CODE_SECRET": "a-long-random-redemption-code-secret-from-the-vault",
    "CACHE_URL": "redis://127.0.0.1:6379/15",
    "ALLOWED_HOSTS": "api.example.com",
}
UNSET = ("DEBUG", "SECRET_KEY", "REDEMPTION_CODE_SECRET", "CACHE_URL", "REDIS_URL", "DATABASE_URL")


def run(args: list[str], **env) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in UNSET}
    return subprocess.run([sys.executable, *args], env=base | env, cwd=ROOT, capture_output=True, text=True, timeout=60)


def settings_value(name: str, **env) -> subprocess.CompletedProcess:
    code = f"import django; django.setup(); from django.conf import settings; print(settings.{name})"
    return run(["-c", code], **env)


def test_debug_is_off_unless_asked_for():
    assert settings_value("DEBUG", **PRODUCTION).stdout.strip() == "False"
    assert settings_value("DEBUG", **PRODUCTION, DEBUG="1").stdout.strip() == "True"


@pytest.mark.parametrize("missing", ["SECRET_KEY", "REDEMPTION_CODE_SECRET", "CACHE_URL"])
def test_production_refuses_to_start_without_real_secrets_and_a_shared_cache(missing):
    env = {k: v for k, v in PRODUCTION.items() if k != missing}

    result = settings_value("DEBUG", **env)

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and missing in result.stderr


def test_without_cache_url_production_shares_the_counters_through_redis_url():
    env = {k: v for k, v in PRODUCTION.items() if k != "CACHE_URL"} | {"REDIS_URL": "redis://10.0.0.5:6379/0"}

    result = settings_value("CACHES['default']['LOCATION']", **env)

    assert result.stdout.strip() == "redis://10.0.0.5:6379/0"


def test_check_deploy_is_clean_with_production_settings():
    result = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], **PRODUCTION)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
