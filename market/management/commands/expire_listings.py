from django.core.management.base import BaseCommand

from market.services import listings_expire


class Command(BaseCommand):
    help = "Expire every listing on sale past its time, releasing holds and item locks (what the hourly task does)."

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=200)

    def handle(self, *args, batch_size, **options):
        count = listings_expire(batch_size=batch_size)
        self.stdout.write(f"expired {count} listing(s)")
