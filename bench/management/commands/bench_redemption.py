"""Fulfils per second and latency of `order_fulfil` on the configured database.

Creates its own data under a unique prefix (customers, a merchant with staff, vouchers
and pending orders, all through the services), then fulfils the codes with 1, 4 and 16
threads, each on its own connection. The data stays, marked by the prefix.

First it prints the SQL statements of one order create, code lookup and fulfil, through the
services and through the API the customer and the counter call (JWT, view, JSON), counted on
a warm second round: BEGIN, COMMIT and savepoints count, each is a round trip too.

Threads of one Python process share the GIL, so `--processes 2,4` adds rows with that
many worker processes (how the site runs: stateless processes behind a load balancer).
Each worker is a counter of its own with its own IP: the failure limits count per IP
attempts in flight, and 16 counters behind one address would be throttled.
"""

import logging
import statistics
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from rest_framework_simplejwt.tokens import AccessToken

from bench.harness import measure
from items.services import item_grant
from redemption.services import (
    merchant_get_or_create,
    merchant_staff_add,
    order_create,
    order_fulfil,
    order_lookup,
)

QUIET_LOGGERS = ("redemption", "items")


class Command(BaseCommand):
    help = "Benchmark redemption fulfils: SQL statements per operation; fulfils/s and p50/p95 latency with 1, 4 and 16 threads."

    def add_arguments(self, parser):
        parser.add_argument("--threads", default="1,4,16", help="Comma-separated thread counts.")
        parser.add_argument("--processes", default="", help="Comma-separated process counts (optional rows).")
        parser.add_argument("--fulfils", type=int, default=2000, help="Fulfils measured per row.")

    def handle(self, *args, threads, processes, fulfils, **options):
        rows = [("threads", int(count)) for count in threads.split(",") if count]
        rows += [("processes", int(count)) for count in processes.split(",") if count]
        self.prefix = f"bench-{uuid.uuid4().hex[:8]}"
        for name in QUIET_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)
        self.stdout.write(f"{connection.vendor} {connection.settings_dict['NAME']}, data prefix {self.prefix}")

        started = time.perf_counter()
        staff_ids, customer_ids, codes = self.prepare(staff=max(count for _, count in rows), orders=fulfils * len(rows))
        self.stdout.write(f"prepared {len(codes)} pending orders in {time.perf_counter() - started:.1f} s")
        self.statements(customer_id=customer_ids[0], staff_id=staff_ids[0])

        self.stdout.write(
            f"{'workers':>13}  {'fulfils':>7}  {'seconds':>7}  {'fulfils/s':>9}  {'p50 ms':>7}  {'p95 ms':>7}"
        )
        for index, (kind, count) in enumerate(rows):
            batch = codes[index * fulfils : (index + 1) * fulfils]
            seconds, latencies = self.run(batch, staff_ids[:count], processes=kind == "processes")
            p50 = statistics.median(latencies) * 1000
            p95 = statistics.quantiles(latencies, n=20)[-1] * 1000
            self.stdout.write(
                f"{count:>3} {kind:<9}  {len(batch):>7}  {seconds:>7.2f}  {len(batch) / seconds:>9.0f}  "
                f"{p50:>7.2f}  {p95:>7.2f}"
            )

    def prepare(self, *, staff: int, orders: int) -> tuple[list[int], list[int], list[str]]:
        User = get_user_model()
        self.merchant = merchant_get_or_create(code=self.prefix.upper(), name=f"Benchmark {self.prefix}")
        staff_ids = []
        for n in range(staff):
            user = User.objects.create_user(username=f"{self.prefix}-staff-{n}", is_staff=True)
            merchant_staff_add(merchant_id=self.merchant.pk, user_id=user.pk)
            staff_ids.append(user.pk)
        customer_ids = [User.objects.create_user(username=f"{self.prefix}-customer-{n}").pk for n in range(16)]
        self.issuer = User.objects.create_superuser(username=f"{self.prefix}-issuer")

        def issue(n: int) -> str:
            try:
                customer_id = customer_ids[n % len(customer_ids)]
                return order_create(item_id=self.grant(customer_id), user_id=customer_id).code
            finally:
                connection.close()

        with ThreadPoolExecutor(max_workers=4) as pool:
            codes = list(pool.map(issue, range(orders)))
        return staff_ids, customer_ids, codes

    def grant(self, customer_id: int) -> int:
        """A new voucher of the customer's, redeemable at the benchmark's merchant: its id."""
        item, _ = item_grant(
            actor=self.issuer,
            owner_id=customer_id,
            item_type="voucher",
            name="Benchmark voucher",
            meta={"value": 1500},
            source="bench",
            source_ref=f"{self.prefix}-{uuid.uuid4().hex}",
            merchant_code=self.merchant.code,
        )
        return item.pk

    def statements(self, *, customer_id: int, staff_id: int) -> None:
        """Print the SQL statements of an order create, a lookup and a fulfil, each path's second round."""
        User = get_user_model()
        customer_api, counter_api = (
            Client(headers={"Authorization": f"Bearer {AccessToken.for_user(User.objects.get(pk=pk))}"})
            for pk in (customer_id, staff_id)
        )

        def api_create(item_id: int) -> str:
            url = f"/api/v4/items/{item_id}/redemption-orders"
            response = customer_api.post(url, headers={"Idempotency-Key": uuid.uuid4().hex})
            assert response.status_code == 201, response.content[:200]
            return response.json()["code"]

        def api_verify(action: str):
            def verify(code: str) -> None:
                url = f"/api/v4/merchant/redemptions/{action}"
                response = counter_api.post(url, {"code": code}, content_type="application/json")
                assert response.status_code == 200, response.content[:200]

            return verify

        paths = {
            "services": (
                lambda item_id: order_create(item_id=item_id, user_id=customer_id).code,
                lambda code: order_lookup(code=code, staff_user_id=staff_id, ip="127.0.0.1"),
                lambda code: order_fulfil(code=code, staff_user_id=staff_id, ip="127.0.0.1"),
            ),
            "API": (api_create, api_verify("lookup"), api_verify("fulfil")),
        }
        counts = {}
        for path, (create, lookup, fulfil) in paths.items():
            for _ in range(2):  # the first round warms connections and caches
                item_id = self.grant(customer_id)
                with CaptureQueriesContext(connection) as creating:
                    code = create(item_id)
                with CaptureQueriesContext(connection) as looking_up:
                    lookup(code)
                with CaptureQueriesContext(connection) as fulfilling:
                    fulfil(code)
            counts[path] = [len(creating), len(looking_up), len(fulfilling)]
        self.stdout.write(f"{'SQL statements':<14}  {'services':>8}  {'API':>5}")
        for index, name in enumerate(("order create", "code lookup", "fulfil")):
            self.stdout.write(f"{name:<14}  {counts['services'][index]:>8}  {counts['API'][index]:>5}")

    def run(self, codes: list[str], staff_ids: list[int], *, processes: bool) -> tuple[float, list[float]]:
        """Fulfil `codes` split over one worker (a counter with its own IP) per staff user; the wall time and
        every latency."""
        count = len(staff_ids)
        work = [[(code, staff_ids[i], f"10.0.0.{i + 1}") for code in codes[i::count]] for i in range(count)]
        return measure(_fulfil, work, processes=processes)


def _fulfil(work: tuple[str, int, str]) -> None:
    code, staff_id, ip = work
    order_fulfil(code=code, staff_user_id=staff_id, ip=ip)
