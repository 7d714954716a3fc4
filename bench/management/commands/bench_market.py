"""Purchases per second and latency of `listing_purchase`, with and without the platform fee.

Each thread buys one unit at a time from its own listing (its own seller and buyer), so
with fee 0 the threads share no row at all; with a fee every purchase also credits the
platform fee account, spread over slot accounts (ledger/models.py) so that purchases do not
queue on one row. The difference between the two runs is what the fee costs. First it prints
the SQL statements of one asset purchase and one item purchase. The data is created through
the services in the configured database and left there (users named bench-<tag>-…).
"""

import statistics
import uuid

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.test import override_settings

from bench.harness import measure, statements
from items.models import ItemType
from items.services import item_grant
from ledger.services import balance_change
from market.services import listing_create, listing_purchase

LISTED_ASSET = "red_shard"
UNIT_PRICE = 100


class Command(BaseCommand):
    help = "Benchmark market purchases: 1, 4 and 16 threads, with the 5% fee and with fee 0."

    def add_arguments(self, parser):
        parser.add_argument("--threads", default="1,4,16", help="Comma-separated thread counts.")
        parser.add_argument("--processes", default="2", help="Comma-separated process counts (one GIL each).")
        parser.add_argument("--per-thread", type=int, default=150, help="Purchases per thread and run.")
        parser.add_argument("--fee-bps", type=int, default=500, help="The fee of the fee run, in basis points.")
        parser.add_argument("--force", action="store_true", help="Run even when DEBUG is off.")

    def handle(self, *args, threads, processes, per_thread, fee_bps, force, **options):
        if not settings.DEBUG and not force:
            raise CommandError("bench_market writes test data; it runs only with DEBUG on (or --force).")
        workers = [("threads", int(n)) for n in threads.split(",") if n]
        workers += [("processes", int(n)) for n in processes.split(",") if n]
        tag = uuid.uuid4().hex[:8]
        self.stdout.write(
            f"database: {connection.vendor} {connection.settings_dict.get('NAME')}, "
            f"{per_thread} purchases per worker, run tag {tag}"
        )
        self.stdout.write(self.statements(tag))
        rows = []
        # Query logging (DEBUG) costs CPU per query; production runs without it.
        with override_settings(DEBUG=False):
            for kind, count in workers:
                for bps in (fee_bps, 0):
                    rows.append(self.run(tag=tag, kind=kind, count=count, per_thread=per_thread, fee_bps=bps))
        self.report(rows, fee_bps)

    def run(self, *, tag: str, kind: str, count: int, per_thread: int, fee_bps: int) -> dict:
        listings, buyers = self.prepare(f"{tag}-{kind[0]}{count}-f{fee_bps}", count, per_thread)
        work = [[(listings[i], buyers[i], f"bench-{n}") for n in range(per_thread)] for i in range(count)]
        waits_before = self.row_lock_waits()
        with override_settings(MARKET_FEE_BPS=fee_bps):
            elapsed, samples = measure(_buy_one, work, processes=kind == "processes")
        waits_after = self.row_lock_waits()
        quantiles = statistics.quantiles(sorted(samples), n=100, method="inclusive")
        return {
            "workers": f"{count} {kind}",
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

    def statements(self, tag: str) -> str:
        """The statements of a warm asset purchase and item purchase, BEGIN and COMMIT included."""
        (listing,), (buyer,) = self.prepare(f"{tag}-count", 1, 4)  # two asset units, two items
        _buy_one((listing, buyer, "warm"))
        asset = statements(lambda: _buy_one((listing, buyer, "counted")))
        seller = get_user_model().objects.create(username=f"bench-{tag}-count-item-seller")
        issuer = get_user_model().objects.create_superuser(username=f"bench-{tag}-count-issuer")
        item_listings = []
        for n in range(2):  # the first sale is the warm-up: the seller's account and balance row exist after it
            item, _ = item_grant(
                actor=issuer,
                owner_id=seller.pk,
                item_type=ItemType.PRODUCT,
                name="Bench item",
                source="bench",
                source_ref=f"{tag}-{n}",
            )
            item_listings.append(listing_create(seller_id=seller.pk, item_instance_id=item.pk, unit_price=UNIT_PRICE))
        listing_purchase(listing_id=item_listings[0].pk, buyer_id=buyer, idempotency_key="item-warm")
        item_purchase = statements(
            lambda: listing_purchase(listing_id=item_listings[1].pk, buyer_id=buyer, idempotency_key="item")
        )
        return f"statements per purchase, BEGIN and COMMIT included: asset {asset}, item {item_purchase}"

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
            "| workers | fee (bps) | purchases | purchases/s | p50 ms | p95 ms | row lock waits | lock wait ms |"
        )
        self.stdout.write("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for row in rows:
            self.stdout.write(
                f"| {row['workers']} | {row['fee_bps']} | {row['purchases']} | {row['per_second']:.0f} "
                f"| {row['p50_ms']:.1f} | {row['p95_ms']:.1f} | {row['lock_waits']} | {row['lock_wait_ms']} |"
            )
        self.stdout.write("")
        by_key = {(row["workers"], row["fee_bps"]): row for row in rows}
        for workers in dict.fromkeys(row["workers"] for row in rows):
            with_fee, without = by_key[(workers, fee_bps)], by_key[(workers, 0)]
            ratio = with_fee["per_second"] / without["per_second"]
            # Waits say whether purchases queue on a fee row; without them, the gap is the fee's own leg and row.
            self.stdout.write(
                f"{workers:>12}: the fee run does {ratio:.0%} of the no-fee rate, "
                f"with {with_fee['lock_waits']} row lock waits (no-fee run: {without['lock_waits']})"
            )


def _buy_one(work: tuple[int, int, str]) -> None:
    listing_id, buyer_id, key = work
    listing_purchase(listing_id=listing_id, buyer_id=buyer_id, quantity=1, idempotency_key=key)
