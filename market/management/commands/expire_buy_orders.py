from django.core.management.base import BaseCommand

from market.buy_order_services import buy_orders_expire


class Command(BaseCommand):
    help = "Expire every open buy order past its time, releasing what its hold still has (what the hourly task does)."

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=200)

    def handle(self, *args, batch_size, **options):
        count = buy_orders_expire(batch_size=batch_size)
        self.stdout.write(f"expired {count} buy order(s)")
