from django.core.management.base import BaseCommand

from items.services import EXPIRING_SOON, items_announce_expiring


class Command(BaseCommand):
    help = "Record item.expiring_soon once for every item that expires within 3 days (idempotent)."

    def handle(self, *args, **options):
        looked_at = items_announce_expiring()
        self.stdout.write(f"{looked_at} item(s) expire within {EXPIRING_SOON.days} days; each is announced once")
