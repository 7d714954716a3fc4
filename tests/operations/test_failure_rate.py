"""The hourly redemption failure-rate alert: thresholds, the window, and what is not counted.

Attempts are planted as rows (what the verify services record); the check only reads them.
"""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from operations.models import Alert
from operations.tasks import check_redemption_failure_rate
from redemption.models import AttemptKind, AttemptOutcome, RedemptionAttempt
from tests.factories import RedemptionAttemptFactory, StaffFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def thresholds(settings):
    settings.REDEMPTION_FAILURE_ALERT_RATE = 0.05
    settings.REDEMPTION_FAILURE_ALERT_MIN_ATTEMPTS = 20


@pytest.fixture
def attempts():
    staff = StaffFactory()

    def plant(outcome: str, count: int, *, age: timedelta = timedelta(minutes=5)) -> None:
        created = RedemptionAttemptFactory.create_batch(
            count, kind=AttemptKind.LOOKUP, outcome=outcome, staff_user=staff
        )
        RedemptionAttempt.objects.filter(pk__in=[a.pk for a in created]).update(created_at=timezone.now() - age)

    return plant


def test_a_rate_above_the_threshold_alerts_posts_and_exits_1(attempts, webhook, capsys):
    attempts(AttemptOutcome.OK, 19)
    attempts(AttemptOutcome.NOT_FOUND, 1)
    attempts(AttemptOutcome.EXPIRED, 1)

    with pytest.raises(SystemExit) as exit_status:
        call_command("check_redemption_failure_rate")

    assert exit_status.value.code == 1
    assert "21 verifications, 19 ok, 2 failed (9.5%)" in capsys.readouterr().out
    alert = Alert.objects.get()
    assert alert.source == "redemption_failure_rate"
    assert (alert.details["ok"], alert.details["failed"]) == (19, 2)
    assert [post["source"] for post in webhook] == ["redemption_failure_rate"]


def test_a_rate_below_the_threshold_stays_quiet(attempts, webhook, capsys):
    attempts(AttemptOutcome.OK, 20)
    attempts(AttemptOutcome.TYPO, 1)

    call_command("check_redemption_failure_rate")

    assert "21 verifications, 20 ok, 1 failed (4.8%)" in capsys.readouterr().out
    assert not Alert.objects.exists() and webhook == []


def test_fewer_attempts_than_the_minimum_stay_quiet_whatever_the_rate(attempts):
    attempts(AttemptOutcome.NOT_FOUND, 19)

    assert check_redemption_failure_rate() is False
    assert not Alert.objects.exists()


def test_attempts_older_than_an_hour_do_not_count(attempts):
    attempts(AttemptOutcome.NOT_FOUND, 30, age=timedelta(minutes=61))
    attempts(AttemptOutcome.OK, 20)

    assert check_redemption_failure_rate() is False


def test_throttled_attempts_count_as_neither_ok_nor_failed(attempts):
    attempts(AttemptOutcome.OK, 20)
    attempts(AttemptOutcome.THROTTLED, 50)

    assert check_redemption_failure_rate() is False
    attempts(AttemptOutcome.WRONG_MERCHANT, 2)
    assert check_redemption_failure_rate() is True
