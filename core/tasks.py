from celery import shared_task
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone

from core.services import idempotency_records_purge


@shared_task
def purge_idempotency_records() -> int:
    return idempotency_records_purge(older_than=timezone.now() - settings.IDEMPOTENCY_KEY_TTL)


@shared_task
def flush_expired_tokens() -> None:
    """Forget refresh tokens past their expiry, and their blacklist entries (simplejwt's own command)."""
    call_command("flushexpiredtokens")
