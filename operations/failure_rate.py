"""The hourly watch on redemption: too many codes refused over the last hour reaches a person.

A spike means a broken scanner or printed code, a clock or expiry problem, or someone
guessing codes; the attempts in the admin say which.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from operations.alerts import alert_fire
from redemption.selectors import AttemptStats, attempt_stats

WINDOW = timedelta(hours=1)


@dataclass(frozen=True)
class FailureRateCheck:
    stats: AttemptStats
    since: datetime
    alerted: bool


def redemption_failure_rate_check(*, now: datetime | None = None) -> FailureRateCheck:
    """Alert when more than REDEMPTION_FAILURE_ALERT_RATE of the last hour's verifications failed,
    once there are at least REDEMPTION_FAILURE_ALERT_MIN_ATTEMPTS of them (a few typos are no spike)."""
    since = (now or timezone.now()) - WINDOW
    stats = attempt_stats(since=since)
    alerted = (
        stats.verified >= settings.REDEMPTION_FAILURE_ALERT_MIN_ATTEMPTS
        and stats.failure_rate > settings.REDEMPTION_FAILURE_ALERT_RATE
    )
    if alerted:
        alert_fire(
            source="redemption_failure_rate",
            message=f"{stats.failed} of {stats.verified} redemption verifications failed in the last hour "
            f"({stats.failure_rate:.1%}, alert above {settings.REDEMPTION_FAILURE_ALERT_RATE:.1%}).",
            details={
                "since": since.isoformat(),
                "ok": stats.ok,
                "failed": stats.failed,
                "throttled": stats.throttled,
                "failure_rate": round(stats.failure_rate, 4),
                "threshold": settings.REDEMPTION_FAILURE_ALERT_RATE,
            },
        )
    return FailureRateCheck(stats=stats, since=since, alerted=alerted)
