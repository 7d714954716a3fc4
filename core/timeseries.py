"""Time buckets for charts and price history, computed without the database's time-zone tables.

The database groups by UTC hour (`TruncHour(..., tzinfo=UTC)` needs no CONVERT_TZ, so it works on
a MariaDB without time-zone tables, where CONVERT_TZ answers NULL); hours are then rolled up into
days of TIME_ZONE here. That is exact for every zone whose offset is a whole number of hours
(Asia/Shanghai, the default, is +08:00).
"""

from datetime import UTC, date, datetime, timedelta

from django.db.models.functions import TruncHour
from django.utils import timezone


def utc_hour(field: str) -> TruncHour:
    """The UTC hour a timestamp column falls in: the database's grouping key."""
    return TruncHour(field, tzinfo=UTC)


def local_day(moment: datetime) -> date:
    """The day of TIME_ZONE a moment (an hour bucket's start) belongs to."""
    return timezone.localtime(moment).date()


def local_midnight(day: date) -> datetime:
    """The aware start of a day of TIME_ZONE."""
    return timezone.make_aware(datetime.combine(day, datetime.min.time()))


def days_ending(*, today: date, count: int) -> list[date]:
    """The `count` days up to and including `today`, oldest first (a chart's x axis)."""
    return [today - timedelta(days=offset) for offset in range(count - 1, -1, -1)]
