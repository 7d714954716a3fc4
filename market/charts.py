"""The admin's price and volume charts of one asset (server-rendered SVG, see core.charts)."""

from datetime import UTC, datetime, timedelta

from django.utils import timezone

from core.charts import Series, svg_chart
from core.timeseries import local_day, local_midnight
from market.price_selectors import DAY, price_buckets

RANGE_COLOR, CLOSE_COLOR, VOLUME_COLOR = "#9aa5b1", "#2f7ebc", "#3a9d5d"


def price_charts(*, asset_code: str, price_asset_code: str, interval: str, since: datetime, until: datetime) -> dict:
    """{"price": SVG, "volume": SVG, "buckets": [...]}: every hour or day of the range on the x axis,
    the day's (or hour's) low to high range and close, and the volume traded."""
    buckets = price_buckets(
        asset_code=asset_code, price_asset_code=price_asset_code, interval=interval, since=since, until=until
    )
    slots = _slots(interval, since, until)
    by_start = {bucket["start"]: bucket for bucket in buckets}
    rows = [by_start.get(slot) for slot in slots]
    labels = [_label(slot, interval) for slot in slots]
    pair = f"{asset_code} in {price_asset_code}"
    price = svg_chart(
        title=f"Price of {pair}, {'daily' if interval == DAY else 'hourly'}",
        x_labels=labels,
        series=[
            Series("low–high", [(row["low"], row["high"]) if row else None for row in rows], "range", RANGE_COLOR),
            Series("close", [row["close"] if row else None for row in rows], "line", CLOSE_COLOR, bridge_gaps=True),
        ],
        chart_id="price-chart",
    )
    volume = svg_chart(
        title=f"Volume of {asset_code}",
        x_labels=labels,
        series=[Series("volume", [row["volume"] if row else None for row in rows], "bar", VOLUME_COLOR)],
        height=160,
        chart_id="volume-chart",
    )
    return {"price": price, "volume": volume, "buckets": buckets}


def _slots(interval: str, since: datetime, until: datetime) -> list[datetime]:
    """Every bucket start of the range: local midnights for days, UTC hours for hours."""
    if interval == DAY:
        day, last = local_day(since), local_day(until - timedelta(microseconds=1))
        days = []
        while day <= last:
            days.append(local_midnight(day))
            day += timedelta(days=1)
        return days
    hour = since.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    hours = []
    while hour < until:
        hours.append(hour)
        hour += timedelta(hours=1)
    return hours


def _label(slot: datetime, interval: str) -> str:
    local = timezone.localtime(slot)
    return local.strftime("%Y-%m-%d") if interval == DAY else local.strftime("%m-%d %H:00")
