import sys

from django.conf import settings
from django.core.management.base import BaseCommand

from operations.failure_rate import redemption_failure_rate_check


class Command(BaseCommand):
    help = "Alert when too many redemption verifications failed in the last hour; exit status 1 if it alerted."

    def handle(self, *args, **options):
        check = redemption_failure_rate_check()
        stats = check.stats
        rate = "n/a" if stats.failure_rate is None else f"{stats.failure_rate:.1%}"
        self.stdout.write(
            f"since {check.since:%Y-%m-%d %H:%M:%S} UTC: {stats.verified} verifications, {stats.ok} ok, "
            f"{stats.failed} failed ({rate}); {stats.throttled} throttled, not counted"
        )
        self.stdout.write(
            f"alert above {settings.REDEMPTION_FAILURE_ALERT_RATE:.1%} with at least "
            f"{settings.REDEMPTION_FAILURE_ALERT_MIN_ATTEMPTS} verifications: {'ALERTED' if check.alerted else 'quiet'}"
        )
        if check.alerted:
            sys.exit(1)
