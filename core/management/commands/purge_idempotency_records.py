from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils import timezone

from core.services import idempotency_records_purge


class Command(BaseCommand):
    help = "Forget the responses of writes made under an Idempotency-Key longer ago than IDEMPOTENCY_KEY_TTL."

    def handle(self, *args, **options):
        count = idempotency_records_purge(older_than=timezone.now() - settings.IDEMPOTENCY_KEY_TTL)
        self.stdout.write(f"purged {count} idempotency record(s)")
