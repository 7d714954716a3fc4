"""The proof that the books balance, stored as a run and alerted on any discrepancy.

Incremental (the nightly task): what changed since the last checkpoint (ledger.checkpoints). Full (the weekly
task, `reconcile_ledger --full`, and any run without a checkpoint): every leg, the checkpoint and the seal.
A run that finds nothing writes the next checkpoint (a full run also when it found faults in the last
checkpoint only: LedgerProof.proves).
"""

import traceback

from django.conf import settings
from django.utils import timezone

from core.db import atomic_with_retry
from core.models import EventType
from core.services import event_record
from items.reconciliation import item_lock_has_live_holder
from ledger.checkpoints import LedgerProof
from market.reconciliation import (
    asset_listings_match_holds,
    book_not_crossed,
    market_locks_match_listings,
    open_bids_match_frozen,
)
from operations.alerts import alert_fire
from operations.models import ReconciliationRun, RunKind, RunStatus
from redemption.reconciliation import redemption_locks_match_orders

# Bounded by what is open today (locked items, pending orders, listings on sale): in every run.
LIVE_CHECKS = (
    item_lock_has_live_holder,
    redemption_locks_match_orders,
    market_locks_match_listings,
    asset_listings_match_holds,
    book_not_crossed,
    open_bids_match_frozen,
)


def reconciliation_run(*, full: bool = False) -> ReconciliationRun:
    """Run the checks, store the run (discrepancies capped, counted exactly), alert if any; checkpoint what it proved."""
    proof = LedgerProof(full=full)
    run = ReconciliationRun.objects.create(kind=RunKind(proof.kind))
    found, per_check = [], {}
    try:
        for check in (*proof.checks(), *LIVE_CHECKS):
            problems = check()
            per_check[check.__name__] = len(problems)
            found += problems
        status, error = (RunStatus.FAILED if found else RunStatus.PASSED), ""
        if proof.proves(found):
            proof.checkpoint()
    except Exception:  # a check that cannot run is itself an alarm
        status, error = RunStatus.ERROR, traceback.format_exc()

    @atomic_with_retry
    def finish() -> None:
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

    finish()
    run.refresh_from_db()
    if status != RunStatus.PASSED:
        alert_fire(
            source="reconciliation",
            message=f"Reconciliation {run.get_status_display().lower()}: {len(found)} discrepancies.",
            details={"run_id": run.pk, "checks": per_check, "first": found[:10], "error": error[-1000:]},
        )
    return run
