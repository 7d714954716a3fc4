from celery import shared_task

from backpack_site.reconciliation import reconciliation_run


@shared_task
def reconcile_ledger() -> str:
    return reconciliation_run().status
