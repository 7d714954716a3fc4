from celery import shared_task

from ledger.seal import journal_seal

# Runs every minute; a run stops taking new blocks after this long, so runs seldom overlap (they may: the
# block number and the seal rows are unique keys).
SEAL_RUN_SECONDS = 50


@shared_task
def seal_journal() -> int:
    """How many blocks this run sealed."""
    return len(journal_seal(max_seconds=SEAL_RUN_SECONDS))
