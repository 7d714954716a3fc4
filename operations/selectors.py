"""Reads for the operations dashboard: the reconciliation runs and the platform's recent activity."""

from datetime import datetime, timedelta

from django.utils import timezone

from core.timeseries import days_ending, local_day, local_midnight
from ledger.checkpoints import checkpoint_latest
from ledger.seal import block_latest
from market.price_selectors import trade_totals_by_day
from market.selectors import trade_totals_by_price_asset
from operations.charts import CHART_DAYS, dashboard_charts
from operations.models import ReconciliationRun, RunStatus
from redemption.selectors import attempt_stats, attempt_stats_by_day

RUN_COLUMNS = ("id", "kind", "status", "started_at", "finished_at", "discrepancy_count")
REDEMPTION_WINDOWS = (("Last hour", timedelta(hours=1)), ("Last 24 hours", timedelta(hours=24)))
TRADE_WINDOW = timedelta(hours=24)
MAX_CHARTED_RUNS = 1000


def reconciliation_runs_recent(*, limit: int = 30) -> list[dict]:
    """The latest runs first, with their status label: one query."""
    runs = list(ReconciliationRun.objects.order_by("-started_at", "-id").values(*RUN_COLUMNS)[:limit])
    for run in runs:
        run["status_label"] = RunStatus(run["status"]).label
    return runs


def reconciliation_runs_since(*, since: datetime) -> list[dict]:
    """The runs started since a time, oldest first (at most MAX_CHARTED_RUNS, the latest ones): one query."""
    runs = ReconciliationRun.objects.filter(started_at__gte=since).order_by("-started_at", "-id")
    return list(reversed(runs.values("started_at", "status", "discrepancy_count")[:MAX_CHARTED_RUNS]))


def operations_dashboard(*, now: datetime | None = None) -> dict:
    """Everything the dashboard shows, in a fixed number of queries (one per table and window, one per chart)."""
    now = now or timezone.now()
    runs = reconciliation_runs_recent()
    redemption = []
    for label, window in REDEMPTION_WINDOWS:
        stats = attempt_stats(since=now - window)
        redemption.append(
            {
                "window": label,
                "verified": stats.verified,
                "ok": stats.ok,
                "failed": stats.failed,
                "throttled": stats.throttled,
                "success_percent": None if stats.success_rate is None else round(100 * stats.success_rate, 1),
            }
        )
    return {
        "latest_run": runs[0] if runs else None,
        "checkpoint": checkpoint_latest(),
        "journal_head": block_latest(),
        "runs": runs,
        "redemption": redemption,
        "trades": trade_totals_by_price_asset(since=now - TRADE_WINDOW),
        "charts": dashboard_charts_last_days(now=now),
    }


def dashboard_charts_last_days(*, now: datetime) -> dict:
    """The dashboard's charts over the last CHART_DAYS days of TIME_ZONE, today included: three queries."""
    days = days_ending(today=local_day(now), count=CHART_DAYS)
    since = local_midnight(days[0])
    return dashboard_charts(
        days=days,
        trades=trade_totals_by_day(since=since, until=now),
        attempts=attempt_stats_by_day(since=since, until=now),
        runs=reconciliation_runs_since(since=since),
    )
