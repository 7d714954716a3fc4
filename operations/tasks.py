import logging
from dataclasses import asdict

from celery import shared_task

from operations.failure_rate import redemption_failure_rate_check
from operations.reconciliation import reconciliation_run
from operations.webhooks import webhooks_deliver

logger = logging.getLogger(__name__)

# Runs every minute; a run stops taking new batches after this long, so runs seldom overlap (they may: claims are safe).
DELIVERY_RUN_SECONDS = 50


@shared_task
def reconcile_ledger() -> str:
    """The nightly run: what changed since the last checkpoint."""
    return reconciliation_run().status


@shared_task
def reconcile_ledger_full() -> str:
    """The weekly run: every leg, the last checkpoint and the whole seal."""
    return reconciliation_run(full=True).status


@shared_task
def check_redemption_failure_rate() -> bool:
    """Whether it alerted."""
    return redemption_failure_rate_check().alerted


@shared_task
def deliver_webhooks() -> dict:
    """{published, delivered, failed} of this run."""
    return asdict(webhooks_deliver(max_seconds=DELIVERY_RUN_SECONDS))


def webhooks_kick() -> None:
    """Ask a worker for a delivery run now; if the broker cannot be reached, the minutely run does it."""
    try:
        deliver_webhooks.apply_async(retry=False)
    except Exception as error:  # the broker is down: nothing is lost, the deliveries are due in the database
        logger.warning("could not queue a webhook delivery run: %s", error)
