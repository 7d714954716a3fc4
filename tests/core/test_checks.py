from django.conf import settings
from django.core import checks


def test_a_database_whose_failed_insert_aborts_the_transaction_is_refused_at_start_up(monkeypatch):
    monkeypatch.setitem(settings.DATABASES, "reports", {"ENGINE": "django.db.backends.postgresql"})

    errors = [message for message in checks.run_checks() if message.id == "core.E001"]

    assert [error.msg for error in errors] == [
        "DATABASES['reports'] uses django.db.backends.postgresql, which this project does not support"
    ]


def test_the_configured_databases_pass():
    assert not [message for message in checks.run_checks() if message.id == "core.E001"]
