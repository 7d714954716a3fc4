"""Reads of the redemption app for the API, the admin and the operations checks."""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, F, Q, QuerySet, Sum

from core.timeseries import local_day, utc_hour
from redemption.models import (
    HISTORY_HASH_PREFIX,
    AttemptOutcome,
    Merchant,
    OrderStatus,
    RedemptionAttempt,
    RedemptionOrder,
)


def orders_for_user(*, user_id: int) -> QuerySet:
    """The caller's orders, newest first, with their item and merchant (one query a page)."""
    return (
        RedemptionOrder.objects.filter(customer_id=user_id).select_related("item_instance", "merchant").order_by("-id")
    )


def masked_name(user) -> str:
    """How merchant staff see a customer: enough to greet them, not to identify them."""
    name = user.get_full_name() or user.get_username()
    if len(name) <= 2:
        return name[:1] + "*"
    return f"{name[0]}{'*' * min(len(name) - 2, 4)}{name[-1]}"


def history_order_count() -> int:
    """Orders kept as history of redemptions in another system (the legacy migration)."""
    return RedemptionOrder.objects.filter(code_hash__startswith=HISTORY_HASH_PREFIX).count()


def attempt_counts_by_outcome(*, since: datetime | None = None) -> dict[str, int]:
    """How many lookups and fulfils ended in each outcome (since a time, or ever): one grouped query."""
    attempts = (
        RedemptionAttempt.objects.all() if since is None else RedemptionAttempt.objects.filter(created_at__gte=since)
    )
    return dict(attempts.order_by().values_list("outcome").annotate(n=Count("id")))


@dataclass(frozen=True)
class AttemptStats:
    """Verifications split into ok and failed. Throttled attempts are counted apart and in
    neither: they are refused before any code is checked, and the failures that led to the
    throttling are already counted, so a client hammering while throttled does not swamp the rate."""

    ok: int
    failed: int
    throttled: int

    @property
    def verified(self) -> int:
        return self.ok + self.failed

    @property
    def failure_rate(self) -> float | None:
        return self.failed / self.verified if self.verified else None

    @property
    def success_rate(self) -> float | None:
        return self.ok / self.verified if self.verified else None


def attempt_stats(*, since: datetime) -> AttemptStats:
    counts = attempt_counts_by_outcome(since=since)
    ok = counts.pop(AttemptOutcome.OK, 0)
    throttled = counts.pop(AttemptOutcome.THROTTLED, 0)
    return AttemptStats(ok=ok, failed=sum(counts.values()), throttled=throttled)


def attempt_stats_by_day(*, since: datetime, until: datetime) -> dict:
    """{day of TIME_ZONE: AttemptStats} for the attempts in [since, until): one query grouped by UTC
    hour and outcome (index `redemption_attempt_time`), rolled up into days here."""
    rows = (
        RedemptionAttempt.objects.filter(created_at__gte=since, created_at__lt=until)
        .annotate(start=utc_hour("created_at"))
        .values_list("start", "outcome")
        .annotate(n=Count("id"))
        .order_by()
    )
    counts: dict = {}
    for start, outcome, n in rows:
        day = counts.setdefault(local_day(start), {"ok": 0, "failed": 0, "throttled": 0})
        key = {AttemptOutcome.OK: "ok", AttemptOutcome.THROTTLED: "throttled"}.get(outcome, "failed")
        day[key] += n
    return {day: AttemptStats(**numbers) for day, numbers in counts.items()}


def merchants_of_staff(*, user_id: int) -> list[dict]:
    """The active merchants a staff user works for, by code: id, code, name."""
    return list(Merchant.objects.filter(staff__id=user_id, active=True).order_by("code").values("id", "code", "name"))


def _fulfilled(*, merchant_ids, since: datetime, until: datetime) -> QuerySet:
    """Orders fulfilled at these merchants in [since, until) (index `redemption_merchant_period`)."""
    return RedemptionOrder.objects.filter(
        merchant_id__in=merchant_ids, status=OrderStatus.FULFILLED, fulfilled_at__gte=since, fulfilled_at__lt=until
    )


def counter_totals(*, merchant_ids: list[int], day_start: datetime, month_start: datetime, now: datetime) -> dict:
    """{merchant id: {"today_count", "today_value", "month_count", "month_value"}}: what each merchant
    redeemed today and this month (face values in minor units). One query, aggregated in SQL on
    the index `redemption_merchant_period` alone."""
    today = Q(fulfilled_at__gte=day_start)
    rows = (
        _fulfilled(merchant_ids=merchant_ids, since=month_start, until=now)
        .values("merchant_id")
        .annotate(
            month_count=Count("id"),
            month_value=Sum("face_value"),
            today_count=Count("id", filter=today),
            today_value=Sum("face_value", filter=today),
        )
        .order_by()
    )
    totals = {
        merchant_id: {"today_count": 0, "today_value": 0, "month_count": 0, "month_value": 0}
        for merchant_id in merchant_ids
    }
    for row in rows:
        merchant_id = row.pop("merchant_id")
        totals[merchant_id] = {key: int(value or 0) for key, value in row.items()}
    return totals


def settlement_by_merchant(*, since: datetime, until: datetime) -> list[dict]:
    """Every merchant with redemptions in [since, until): code, name, count, face value. One query."""
    rows = (
        RedemptionOrder.objects.filter(status=OrderStatus.FULFILLED, fulfilled_at__gte=since, fulfilled_at__lt=until)
        .exclude(merchant=None)
        .values("merchant_id", code=F("merchant__code"), name=F("merchant__name"))
        .annotate(count=Count("id"), value=Sum("face_value"))
        .order_by("code")
    )
    return [{"face_value": int(row.pop("value") or 0), **row} for row in rows]


def settlement_by_voucher(*, merchant_id: int, since: datetime, until: datetime) -> list[dict]:
    """One merchant's redemptions in [since, until) by voucher (item type and name): count and face
    value, the numbers the restaurant and the platform settle on. One query, aggregated in SQL."""
    rows = (
        _fulfilled(merchant_ids=[merchant_id], since=since, until=until)
        .values(item_type=F("item_instance__item_type"), name=F("item_instance__name"))
        .annotate(count=Count("id"), value=Sum("face_value"))
        .order_by("item_type", "name")
    )
    return [{"face_value": int(row.pop("value") or 0), **row} for row in rows]
