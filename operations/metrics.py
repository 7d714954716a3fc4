"""Domain metrics for /metrics, read from the database at scrape time.

Counting in the database rather than in process memory keeps the numbers right across
web workers, Celery workers and management commands alike.
"""

import logging

from django.db.models import Count
from django.utils import timezone
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from ledger.checkpoints import legs_since_checkpoint
from ledger.seal import block_latest
from market.selectors import trade_totals_by_price_asset
from operations.models import Alert, ReconciliationRun, RunStatus
from redemption.selectors import attempt_counts_by_outcome

logger = logging.getLogger(__name__)


TRADE_COUNTERS = {
    # metric name: (the column of trade_totals_by_price_asset, help)
    "backpack_market_trades": ("trades", "Market trades, by price asset."),
    "backpack_market_trade_volume": ("total", "What buyers paid on the market, by price asset."),
    "backpack_market_fees": ("fees", "Market fees collected, by price asset."),
}


class DomainCollector:
    def describe(self):
        """The metric names without values, so registering at start-up runs no query."""
        yield CounterMetricFamily("backpack_alerts", "Alerts fired, by source.", labels=["source"])
        yield GaugeMetricFamily("backpack_reconciliation_discrepancies", "")
        yield GaugeMetricFamily("backpack_reconciliation_last_pass_timestamp_seconds", "")
        yield CounterMetricFamily("backpack_redemption_attempts", "", labels=["outcome"])
        yield GaugeMetricFamily("backpack_journal_legs_since_checkpoint", "")
        yield GaugeMetricFamily("backpack_journal_seconds_since_last_block", "")
        for name in TRADE_COUNTERS:
            yield CounterMetricFamily(name, "", labels=["price_asset"])

    def collect(self):
        try:
            yield from self._alerts()
            yield from self._reconciliation()
            yield from self._journal()
            yield from self._redemption()
            yield from self._market()
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

    def _journal(self):
        legs = GaugeMetricFamily(
            "backpack_journal_legs_since_checkpoint", "Journal legs the next incremental reconciliation reads."
        )
        legs.add_metric([], legs_since_checkpoint())
        yield legs
        since = GaugeMetricFamily(
            "backpack_journal_seconds_since_last_block", "Seconds since the journal's newest block was sealed."
        )
        head = block_latest()
        if head is not None:  # no sample before the first block
            since.add_metric([], (timezone.now() - head.sealed_at).total_seconds())
        yield since

    def _redemption(self):
        attempts = CounterMetricFamily(
            "backpack_redemption_attempts", "Redemption code lookups and fulfils, by outcome.", labels=["outcome"]
        )
        for outcome, count in sorted(attempt_counts_by_outcome().items()):
            attempts.add_metric([outcome], count)
        yield attempts

    def _market(self):
        rows = trade_totals_by_price_asset()
        for name, (column, help_text) in TRADE_COUNTERS.items():
            counter = CounterMetricFamily(name, help_text, labels=["price_asset"])
            for row in rows:
                counter.add_metric([row["price_asset_code"]], row[column])
            yield counter
