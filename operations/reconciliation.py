"""The nightly proof that the books balance, stored as a run and alerted on any discrepancy."""

import traceback

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core.models import EventType
from core.services import event_record
from items.reconciliation import item_lock_has_live_holder
from ledger.reconciliation import LEDGER_CHECKS
from market.reconciliation import (
    asset_listings_match_holds,
    book_not_crossed,
    market_locks_match_listings,
    open_bids_match_frozen,
)
from operations.alerts import alert_fire
from operations.models import ReconciliationRun, RunStatus
from redemption.reconciliation import redemption_locks_match_orders

CHECKS = (
    *LEDGER_CHECKS,
    item_lock_has_live_holder,
    redemption_locks_match_orders,
    market_locks_match_listings,
    asset_listings_match_holds,
    book_not_crossed,
    open_bids_match_frozen,
)


def reconciliation_run() -> ReconciliationRun:
    """Run every check, store the run (discrepancies capped, counted exactly), alert if any."""
    run = ReconciliationRun.objects.create()
    found, per_check = [], {}
    try:
        for check in CHECKS:
            problems = check()
            per_check[check.__name__] = len(problems)
            found += problems
        status, error = (RunStatus.FAILED if found else RunStatus.PASSED), ""
    except Exception:  # a check that cannot run is itself an alarm
        status, error = RunStatus.ERROR, traceback.format_exc()
    with transaction.atomic():
        ReconciliationRun.objects.filter(pk=run.pk).update(
            finished_at=timezone.now(),
            status=status,
            checks=per_check,
            discrepancy_count=len(found),
            discrepancies=found[: settings.RECONCILIATION_MAX_STORED],
            error=error,
        )
        if status != RunStatus.PASSED:
            event_record(
                event_type=EventType.RECONCILIATION_FAILED,
                data={"run_id": run.pk, "status": status, "discrepancy_count": len(found), "checks": per_check},
            )
    run.refresh_from_db()
    if status != RunStatus.PASSED:
        alert_fire(
            source="reconciliation",
            message=f"Reconciliation {run.get_status_display().lower()}: {len(found)} discrepancies.",
            details={"run_id": run.pk, "checks": per_check, "first": found[:10], "error": error[-1000:]},
        )
    return run
