"""Domain metrics for /metrics, read from the database at scrape time.

Counting in the database rather than in process memory keeps the numbers right across
web workers, Celery workers and management commands alike.
"""

import logging

from django.db.models import Count
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from backpack_site.models import Alert, ReconciliationRun, RunStatus

logger = logging.getLogger(__name__)


class DomainCollector:
    def describe(self):
        """The metric names without values, so registering at start-up runs no query."""
        yield CounterMetricFamily("backpack_alerts", "Alerts fired, by source.", labels=["source"])
        yield GaugeMetricFamily("backpack_reconciliation_discrepancies", "")
        yield GaugeMetricFamily("backpack_reconciliation_last_pass_timestamp_seconds", "")

    def collect(self):
        try:
            yield from self._alerts()
            yield from self._reconciliation()
        except Exception:  # a scrape must never fail because one query did
            logger.exception("collecting domain metrics failed")

    def _alerts(self):
        alerts = CounterMetricFamily("backpack_alerts", "Alerts fired, by source.", labels=["source"])
        for row in Alert.objects.values("source").annotate(n=Count("id")).order_by():
            alerts.add_metric([row["source"]], row["n"])
        yield alerts

    def _reconciliation(self):
        latest = ReconciliationRun.objects.exclude(status=RunStatus.RUNNING).order_by("-started_at").first()
        discrepancies = GaugeMetricFamily(
            "backpack_reconciliation_discrepancies", "Discrepancies found by the latest finished reconciliation run."
        )
        discrepancies.add_metric([], latest.discrepancy_count if latest else 0)
        yield discrepancies
        last_pass = (
            ReconciliationRun.objects.filter(status=RunStatus.PASSED)
            .order_by("-started_at")
            .values_list("finished_at", flat=True)
            .first()
        )
        passed = GaugeMetricFamily(
            "backpack_reconciliation_last_pass_timestamp_seconds", "When the last passing reconciliation run finished."
        )
        passed.add_metric([], last_pass.timestamp() if last_pass else 0)
        yield passed
