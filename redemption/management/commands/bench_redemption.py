"""Fulfils per second and latency of `order_fulfil` on the configured database.

Creates its own data under a unique prefix (customers, a merchant with staff, vouchers
and pending orders, all through the services), then fulfils the codes with 1, 4 and 16
threads, each on its own connection. The data stays, marked by the prefix.

Threads of one Python process share the GIL, so `--processes 2,4` adds rows with that
many worker processes (how the site runs: stateless processes behind a load balancer).
"""

import logging
import statistics
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import connection

from core.bench import measure
from items.services import item_grant
from redemption.services import merchant_get_or_create, merchant_staff_add, order_create, order_fulfil

QUIET_LOGGERS = ("redemption", "items")


class Command(BaseCommand):
    help = "Benchmark redemption fulfils: fulfils/s and p50/p95 latency with 1, 4 and 16 threads."

    def add_arguments(self, parser):
        parser.add_argument("--threads", default="1,4,16", help="Comma-separated thread counts.")
        parser.add_argument("--processes", default="", help="Comma-separated process counts (optional rows).")
        parser.add_argument("--fulfils", type=int, default=2000, help="Fulfils measured per row.")

    def handle(self, *args, threads, processes, fulfils, **options):
        rows = [("threads", int(count)) for count in threads.split(",") if count]
        rows += [("processes", int(count)) for count in processes.split(",") if count]
        prefix = f"bench-{uuid.uuid4().hex[:8]}"
        for name in QUIET_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)
        self.stdout.write(f"{connection.vendor} {connection.settings_dict['NAME']}, data prefix {prefix}")

        started = time.perf_counter()
        staff_ids, codes = self.prepare(prefix, staff=max(count for _, count in rows), orders=fulfils * len(rows))
        self.stdout.write(f"prepared {len(codes)} pending orders in {time.perf_counter() - started:.1f} s")

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

    def prepare(self, prefix: str, *, staff: int, orders: int) -> tuple[list[int], list[str]]:
        User = get_user_model()
        merchant = merchant_get_or_create(code=prefix.upper(), name=f"Benchmark {prefix}")
        staff_ids = []
        for n in range(staff):
            user = User.objects.create_user(username=f"{prefix}-staff-{n}", is_staff=True)
            merchant_staff_add(merchant_id=merchant.pk, user_id=user.pk)
            staff_ids.append(user.pk)
        customer_ids = [User.objects.create_user(username=f"{prefix}-customer-{n}").pk for n in range(16)]
        issuer = User.objects.create_superuser(username=f"{prefix}-issuer")

        def issue(n: int) -> str:
            try:
                customer_id = customer_ids[n % len(customer_ids)]
                item, _ = item_grant(
                    actor=issuer,
                    owner_id=customer_id,
                    item_type="voucher",
                    name="Benchmark voucher",
                    source="bench",
                    source_ref=f"{prefix}-{n}",
                    merchant_code=merchant.code,
                )
                return order_create(item_id=item.pk, user_id=customer_id).code
            finally:
                connection.close()

        with ThreadPoolExecutor(max_workers=4) as pool:
            codes = list(pool.map(issue, range(orders)))
        return staff_ids, codes

    def run(self, codes: list[str], staff_ids: list[int], *, processes: bool) -> tuple[float, list[float]]:
        """Fulfil `codes` split over one worker per staff user; the wall time and every latency."""
        count = len(staff_ids)
        work = [[(code, staff_ids[i]) for code in codes[i::count]] for i in range(count)]
        return measure(_fulfil, work, processes=processes)


def _fulfil(work: tuple[str, int]) -> None:
    code, staff_id = work
    order_fulfil(code=code, staff_user_id=staff_id, ip="127.0.0.1")
