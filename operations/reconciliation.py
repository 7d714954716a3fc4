"""The nightly proof that the books balance, stored as a run and alerted on any discrepancy."""

import traceback

from django.conf import settings
from django.utils import timezone

from items.reconciliation import item_locks_of_unknown_holders
from ledger.reconciliation import LEDGER_CHECKS
from market.models import LOCK_PREFIX as MARKET_LOCK_PREFIX
from market.reconciliation import asset_listings_match_holds, market_locks_match_listings
from operations.alerts import alert_fire
from operations.models import ReconciliationRun, RunStatus
from redemption.reconciliation import redemption_locks_match_orders
from redemption.services import LOCK_PREFIX as REDEMPTION_LOCK_PREFIX


def item_locks_name_a_holder_kind() -> list[dict]:
    """Each holder kind checks its own locks; this finds the locks none of them would look at."""
    return item_locks_of_unknown_holders(holder_prefixes=(REDEMPTION_LOCK_PREFIX, MARKET_LOCK_PREFIX))


CHECKS = (
    *LEDGER_CHECKS,
    item_locks_name_a_holder_kind,
    redemption_locks_match_orders,
    market_locks_match_listings,
    asset_listings_match_holds,
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
    ReconciliationRun.objects.filter(pk=run.pk).update(
        finished_at=timezone.now(),
        status=status,
        checks=per_check,
        discrepancy_count=len(found),
        discrepancies=found[: settings.RECONCILIATION_MAX_STORED],
        error=error,
    )
    run.refresh_from_db()
    if status != RunStatus.PASSED:
        alert_fire(
            source="reconciliation",
            message=f"Reconciliation {run.get_status_display().lower()}: {len(found)} discrepancies.",
            details={"run_id": run.pk, "checks": per_check, "first": found[:10], "error": error[-1000:]},
        )
    return run
