"""Webhook delivery throughput: events per second through one worker (this process) to a receiver on 127.0.0.1.

The receiver runs in its own process (no shared GIL) and answers 204 at once, so the numbers are the
worker's: fan-out, claim, sign, POST, record. The command records its events through the outbox service,
points a new endpoint at the receiver, delivers everything, prints the rates, then switches the endpoint
off. Run it on a scratch database (DATABASE_URL): the events, deliveries and attempts are left there, and
every other active endpoint gets the events too.
"""

import multiprocessing
import statistics
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, connections, transaction
from django.test import override_settings

from core.models import EventType
from core.services import Event, events_record
from operations.models import WebhookAttempt, WebhookEndpoint
from operations.webhooks import events_fan_out, webhooks_deliver

BATCH = 500


class Command(BaseCommand):
    help = "Measure webhook deliveries per second through one worker to a local receiver."

    def add_arguments(self, parser):
        parser.add_argument("--events", type=int, default=2000)
        parser.add_argument("--force", action="store_true", help="Run even when DEBUG is off.")

    def handle(self, *args, events, force, **options):
        if not settings.DEBUG and not force:
            raise CommandError("bench_webhooks writes test data; it runs only with DEBUG on (or --force).")
        others = WebhookEndpoint.objects.filter(active=True).count()
        tag = uuid.uuid4().hex[:8]
        self.stdout.write(
            f"database: {connection.vendor} {connection.settings_dict.get('NAME')}, {events} events, run tag {tag}"
            + (f" ({others} other active endpoints get them too)" if others else "")
        )
        events_fan_out()  # events already waiting go to the endpoints that exist, not to the bench's
        port, received, receiver = _receiver_start()
        endpoint = WebhookEndpoint.objects.create(
            url=f"http://127.0.0.1:{port}/bench-{tag}", secret=tag, event_types=["*"], description=f"bench {tag}"
        )
        try:
            # As in production (no query log), but for the receiver on this machine.
            with override_settings(DEBUG=False, WEBHOOK_ALLOWED_PRIVATE_NETWORKS=["127.0.0.1/32"]):
                self.run(endpoint, events, tag, received)
        finally:
            WebhookEndpoint.objects.filter(pk=endpoint.pk).update(active=False)
            receiver.terminate()

    def run(self, endpoint, count: int, tag: str, received) -> None:
        started = time.perf_counter()
        for start in range(0, count, BATCH):
            with transaction.atomic():
                events_record(
                    events=[
                        Event(EventType.TRADE_SETTLED, {"bench": tag, "n": n, "trade_id": n, "total": 100})
                        for n in range(start, min(start + BATCH, count))
                    ]
                )
        recorded = time.perf_counter() - started

        started = time.perf_counter()
        events_fan_out()
        fanned_out = time.perf_counter() - started

        started = time.perf_counter()
        run = webhooks_deliver()
        delivered, failed = run.delivered, run.failed
        sending = time.perf_counter() - started

        durations = list(
            WebhookAttempt.objects.filter(delivery__endpoint=endpoint).values_list("duration_ms", flat=True)
        )
        self.stdout.write("")
        self.stdout.write(f"recorded {count} events in {recorded:.2f} s ({count / recorded:.0f}/s, {BATCH} per INSERT)")
        self.stdout.write(f"fan-out: {fanned_out:.2f} s ({count / fanned_out:.0f} events/s)")
        self.stdout.write(
            f"delivery: {delivered} delivered, {failed} failed in {sending:.2f} s: {delivered / sending:.0f} events/s "
            f"through one worker; POST p50 {statistics.median(durations):.1f} ms; receiver got {received.value}"
        )
        total = recorded + fanned_out + sending
        self.stdout.write(f"end to end (record, fan out, deliver): {delivered / total:.0f} events/s")


def _receiver_start():
    """A receiver in a child process: (port, shared count of requests, the process)."""
    received = multiprocessing.Value("i", 0)
    ready = multiprocessing.Queue()
    connections.close_all()  # the child must not share this process's database connection
    process = multiprocessing.get_context("fork").Process(target=_serve, args=(ready, received), daemon=True)
    process.start()
    return ready.get(timeout=10), received, process


def _serve(ready, received) -> None:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            with received.get_lock():
                received.value += 1
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    class Server(ThreadingHTTPServer):
        request_queue_size = 128  # the default 5 drops connections that arrive together (a 1 s SYN retry)

    server = Server(("127.0.0.1", 0), Handler)
    ready.put(server.server_port)
    server.serve_forever()
