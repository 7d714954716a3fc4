from django.core.management.base import BaseCommand

from redemption.services import orders_expire


class Command(BaseCommand):
    help = "Expire pending redemption orders past their expiry and unlock their items (what the hourly task does)."

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=500)

    def handle(self, *args, batch_size, **options):
        count = orders_expire(batch_size=batch_size)
        self.stdout.write(f"expired {count} redemption order(s)")
