from django.core.management.base import BaseCommand

from items.services import items_expire


class Command(BaseCommand):
    help = "Expire every available item past its expiry time (what the hourly task does)."

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=1000)

    def handle(self, *args, batch_size, **options):
        count = items_expire(batch_size=batch_size)
        self.stdout.write(f"expired {count} item(s)")
