import time

from django.core.management.base import BaseCommand

from operations.webhooks import webhooks_deliver


class Command(BaseCommand):
    help = "Deliver the outbox's events to the webhook endpoints: once (what the minutely task does), or --loop."

    def add_arguments(self, parser):
        parser.add_argument("--loop", action="store_true", help="Keep delivering, polling every --interval seconds.")
        parser.add_argument("--interval", type=float, default=1.0)

    def handle(self, *args, loop, interval, **options):
        while True:
            run = webhooks_deliver()
            if run.published or run.delivered or run.failed or not loop:
                self.stdout.write(
                    f"{run.published} events published, {run.delivered} deliveries made, {run.failed} failed"
                )
            if not loop:
                return
            time.sleep(interval)
