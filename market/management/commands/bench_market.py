"""Purchases per second and latency of `listing_purchase`, with and without the platform fee.

Each thread buys one unit at a time from its own listing (its own seller and buyer), so
with fee 0 the threads share no row at all; with a fee every purchase also credits the
one SYSTEM_PLATFORM_FEE balance row. The difference between the two runs is the cost of
that single hot row. The data is created through the services in the configured
database and left there (users named bench-<tag>-…).
"""

import statistics
import threading
import time
import uuid

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, connections
from django.test import override_settings

from ledger.services import balance_change
from market.services import listing_create, listing_purchase

LISTED_ASSET = "red_shard"
UNIT_PRICE = 100


class Command(BaseCommand):
    help = "Benchmark market purchases: 1, 4 and 16 threads, with the 5% fee and with fee 0."

    def add_arguments(self, parser):
        parser.add_argument("--threads", default="1,4,16", help="Comma-separated thread counts.")
        parser.add_argument("--per-thread", type=int, default=150, help="Purchases per thread and run.")
        parser.add_argument("--fee-bps", type=int, default=500, help="The fee of the fee run, in basis points.")
        parser.add_argument("--force", action="store_true", help="Run even when DEBUG is off.")

    def handle(self, *args, threads, per_thread, fee_bps, force, **options):
        if not settings.DEBUG and not force:
            raise CommandError("bench_market writes test data; it runs only with DEBUG on (or --force).")
        thread_counts = [int(n) for n in threads.split(",")]
        tag = uuid.uuid4().hex[:8]
        self.stdout.write(
            f"database: {connection.vendor} {connection.settings_dict.get('NAME')}, "
            f"{per_thread} purchases per thread, run tag {tag}"
        )
        rows = []
        # Query logging (DEBUG) costs CPU per query; production runs without it.
        with override_settings(DEBUG=False):
            for count in thread_counts:
                for bps in (fee_bps, 0):
                    rows.append(self.run(tag=tag, threads=count, per_thread=per_thread, fee_bps=bps))
        self.report(rows, fee_bps)

    def run(self, *, tag: str, threads: int, per_thread: int, fee_bps: int) -> dict:
        run_id = f"{tag}-t{threads}-f{fee_bps}"
        listings, buyers = self.prepare(run_id, threads, per_thread)
        latencies = [[] for _ in range(threads)]
        errors = []
        barrier = threading.Barrier(threads + 1)

        def worker(index):
            try:
                connection.ensure_connection()
                barrier.wait()
                for n in range(per_thread):
                    started = time.perf_counter()
                    listing_purchase(
                        listing_id=listings[index], buyer_id=buyers[index], quantity=1, idempotency_key=f"bench-{n}"
                    )
                    latencies[index].append(time.perf_counter() - started)
            except Exception as exc:  # reported below: a benchmark must not hide a failure
                errors.append(exc)
            finally:
                connections.close_all()

        waits_before = self.row_lock_waits()
        with override_settings(MARKET_FEE_BPS=fee_bps):
            workers = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
            for thread in workers:
                thread.start()
            barrier.wait()
            started = time.perf_counter()
            for thread in workers:
                thread.join()
            elapsed = time.perf_counter() - started
        waits_after = self.row_lock_waits()
        if errors:
            raise CommandError(f"{len(errors)} thread(s) failed, first: {errors[0]!r}")

        samples = sorted(s for thread_samples in latencies for s in thread_samples)
        quantiles = statistics.quantiles(samples, n=100, method="inclusive")
        return {
            "threads": threads,
            "fee_bps": fee_bps,
            "purchases": len(samples),
            "per_second": len(samples) / elapsed,
            "p50_ms": quantiles[49] * 1000,
            "p95_ms": quantiles[94] * 1000,
            "lock_waits": waits_after[0] - waits_before[0],
            "lock_wait_ms": waits_after[1] - waits_before[1],
        }

    def prepare(self, run_id: str, threads: int, per_thread: int) -> tuple[list[int], list[int]]:
        """One seller with one listing and one buyer per thread, all through the services."""
        User = get_user_model()
        listings, buyers = [], []
        for index in range(threads):
            seller = User.objects.create(username=f"bench-{run_id}-s{index}")
            buyer = User.objects.create(username=f"bench-{run_id}-b{index}")
            for user, asset_code, amount in (
                (seller, LISTED_ASSET, per_thread),
                (buyer, "DIAMOND", per_thread * UNIT_PRICE),
            ):
                balance_change(
                    user_id=user.pk,
                    asset_code=asset_code,
                    delta=amount,
                    business_type="bench_grant",
                    business_id=f"{user.username}:{asset_code}",
                )
            listing = listing_create(
                seller_id=seller.pk, asset_code=LISTED_ASSET, quantity=per_thread, unit_price=UNIT_PRICE
            )
            listings.append(listing.pk)
            buyers.append(buyer.pk)
        return listings, buyers

    def row_lock_waits(self) -> tuple[int, int]:
        """InnoDB's server-wide row lock wait count and total wait time in ms (0, 0 elsewhere)."""
        if connection.vendor != "mysql":
            return 0, 0
        with connection.cursor() as cursor:
            cursor.execute(
                "SHOW GLOBAL STATUS WHERE Variable_name IN ('Innodb_row_lock_waits', 'Innodb_row_lock_time')"
            )
            status = dict(cursor.fetchall())
        return int(status.get("Innodb_row_lock_waits", 0)), int(status.get("Innodb_row_lock_time", 0))

    def report(self, rows: list[dict], fee_bps: int) -> None:
        self.stdout.write("")
        self.stdout.write(
            "| threads | fee (bps) | purchases | purchases/s | p50 ms | p95 ms | row lock waits | lock wait ms |"
        )
        self.stdout.write("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for row in rows:
            self.stdout.write(
                f"| {row['threads']} | {row['fee_bps']} | {row['purchases']} | {row['per_second']:.0f} "
                f"| {row['p50_ms']:.1f} | {row['p95_ms']:.1f} | {row['lock_waits']} | {row['lock_wait_ms']} |"
            )
        self.stdout.write("")
        by_key = {(row["threads"], row["fee_bps"]): row for row in rows}
        for threads in sorted({row["threads"] for row in rows}):
            with_fee, without = by_key[(threads, fee_bps)], by_key[(threads, 0)]
            ratio = with_fee["per_second"] / without["per_second"]
            verdict = "within 20%" if ratio >= 0.8 else "MORE than 20% slower: the fee account is the bottleneck"
            self.stdout.write(f"{threads:>2} threads: the fee run does {ratio:.0%} of the no-fee rate ({verdict})")
