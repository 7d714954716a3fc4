from celery import shared_task

from operations.failure_rate import redemption_failure_rate_check
from operations.reconciliation import reconciliation_run


@shared_task
def reconcile_ledger() -> str:
    return reconciliation_run().status


@shared_task
def check_redemption_failure_rate() -> bool:
    """Whether it alerted."""
    return redemption_failure_rate_check().alerted
