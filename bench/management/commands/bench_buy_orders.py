"""Fills per second of the book's matching, its statements per fill, and the latency of a crossing order
on a deep book (SPEC §14). No timed tests: this prints numbers.

Each fill here is a bid of one unit that crosses a resting ask: the bid's hold, the fill's balanced entry,
the trade and the events, under the book's lock. On one book every placement queues on that lock, so the
one-book rows show the serial cost of matching; the 16-book rows show how books run side by side. The data
is created through the services in the configured database and left there (users named bench-<tag>-…, and
16 tradable bench assets added to the catalog, as an operator would in the admin).
"""

import statistics
import uuid

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.test import override_settings

from bench.harness import measure, statements
from ledger.models import AssetCategory, AssetType
from ledger.services import balance_change
from market.buy_order_services import buy_order_place
from market.services import listing_create

ASK_PRICE = 100
BOOKS = 16


class Command(BaseCommand):
    help = "Benchmark buy order matching: fills/s on one book and on 16, statements per fill, p95 on a deep book."

    def add_arguments(self, parser):
        parser.add_argument("--threads", default="1,4", help="Comma-separated thread counts on one book.")
        parser.add_argument("--processes", default="2", help="Comma-separated process counts (one GIL each).")
        parser.add_argument("--per-worker", type=int, default=300, help="Crossing bids per worker and run.")
        parser.add_argument("--resting", type=int, default=1000, help="Orders resting on the book for the p95 run.")
        parser.add_argument("--samples", type=int, default=200, help="Crossing orders timed on the deep book.")
        parser.add_argument("--force", action="store_true", help="Run even when DEBUG is off.")

    def handle(self, *args, threads, processes, per_worker, resting, samples, force, **options):
        if not settings.DEBUG and not force:
            raise CommandError("bench_buy_orders writes test data; it runs only with DEBUG on (or --force).")
        tag = uuid.uuid4().hex[:8]
        self.stdout.write(
            f"database: {connection.vendor} {connection.settings_dict.get('NAME')}, "
            f"{per_worker} crossing bids per worker, run tag {tag}"
        )
        self.stdout.write(self.statements(tag))
        runs = [("threads", int(n), 1) for n in threads.split(",") if n]
        runs += [("processes", int(n), 1) for n in processes.split(",") if n]
        runs += [("processes", int(n), BOOKS) for n in processes.split(",") if n]
        rows = []
        with override_settings(DEBUG=False):  # query logging costs CPU per query; production runs without it
            for kind, count, books in runs:
                rows.append(self.run(tag=tag, kind=kind, count=count, books=books, per_worker=per_worker))
            deep = self.deep_book(tag=tag, resting=resting, samples=samples)
        self.stdout.write("")
        self.stdout.write("| workers | books | fills | fills/s | p50 ms | p95 ms |")
        self.stdout.write("| ---: | ---: | ---: | ---: | ---: | ---: |")
        for row in rows:
            self.stdout.write(
                f"| {row['workers']} | {row['books']} | {row['fills']} | {row['per_second']:.0f} "
                f"| {row['p50_ms']:.1f} | {row['p95_ms']:.1f} |"
            )
        self.stdout.write("")
        self.stdout.write(
            f"a crossing ask (one fill) with {resting} bids resting on its book: "
            f"p50 {deep[0]:.1f} ms, p95 {deep[1]:.1f} ms over {samples}"
        )

    def users(self, prefix: str, count: int, grants: dict) -> list[int]:
        User = get_user_model()
        ids = []
        for index in range(count):
            user = User.objects.create(username=f"bench-{prefix}-{index}")
            for asset_code, amount in grants.items():
                balance_change(
                    user_id=user.pk,
                    asset_code=asset_code,
                    delta=amount,
                    business_type="bench_grant",
                    business_id=f"{user.username}:{asset_code}",
                )
            ids.append(user.pk)
        return ids

    def books(self, count: int) -> list[str]:
        if count == 1:
            return ["red_shard"]
        codes = [f"bench_asset_{n:02}" for n in range(count)]
        for n, code in enumerate(codes):
            AssetType.objects.get_or_create(
                asset_code=code,
                defaults={"name": f"Bench asset {n}", "category": AssetCategory.MATERIAL, "display_order": 900 + n},
            )
        return codes

    def asks(self, prefix: str, assets: list[str], quantity: int) -> None:
        """One resting ask per book, big enough for every crossing bid of the run."""
        (seller,) = self.users(f"{prefix}-seller", 1, dict.fromkeys(assets, quantity))
        for asset_code in assets:
            listing_create(seller_id=seller, asset_code=asset_code, quantity=quantity, unit_price=ASK_PRICE)

    def run(self, *, tag: str, kind: str, count: int, books: int, per_worker: int) -> dict:
        prefix = f"{tag}-{kind[0]}{count}-b{books}"
        assets = self.books(books)
        self.asks(prefix, assets, count * per_worker)
        buyers = self.users(f"{prefix}-buyer", count, {"DIAMOND": per_worker * ASK_PRICE * 2})
        work = [
            [(buyers[w], assets[(w + n) % len(assets)], f"{prefix}-{n}") for n in range(per_worker)]
            for w in range(count)
        ]
        elapsed, samples = measure(_cross_one, work, processes=kind == "processes")
        quantiles = statistics.quantiles(sorted(samples), n=100, method="inclusive")
        return {
            "workers": f"{count} {kind}",
            "books": books,
            "fills": len(samples),
            "per_second": len(samples) / elapsed,
            "p50_ms": quantiles[49] * 1000,
            "p95_ms": quantiles[94] * 1000,
        }

    def statements(self, tag: str) -> str:
        """The statements of a bid that fills one ask, and of one that fills ten: the difference is per fill."""
        prefix = f"{tag}-count"
        (seller,) = self.users(f"{prefix}-seller", 1, {"blue_shard": 100})
        (buyer,) = self.users(f"{prefix}-buyer", 1, {"DIAMOND": 100_000})
        for _ in range(12):
            listing_create(seller_id=seller, asset_code="blue_shard", quantity=1, unit_price=ASK_PRICE)
        _cross_one((buyer, "blue_shard", f"{prefix}-warm"))
        one = statements(lambda: _cross_one((buyer, "blue_shard", f"{prefix}-one")))
        ten = statements(
            lambda: buy_order_place(
                buyer_id=buyer, asset_code="blue_shard", quantity=10, max_unit_price=ASK_PRICE, idempotency_key="ten"
            )
        )
        return (
            f"statements, BEGIN and COMMIT included: a bid filling 1 ask {one}, filling 10 asks {ten}: "
            f"{(ten - one) / 9:.1f} per further fill"
        )

    def deep_book(self, *, tag: str, resting: int, samples: int) -> tuple[float, float]:
        """p50 and p95 (ms) of an ask that crosses the best of `resting` bids, which stay on the book."""
        prefix = f"{tag}-deep"
        # Within the open-order cap of each buyer.
        buyers = self.users(f"{prefix}-buyer", resting // settings.MARKET_MAX_OPEN_BUY_ORDERS + 1, {"DIAMOND": 10**9})
        for n in range(resting):  # prices from ASK_PRICE down; the best one is big enough for every sample
            buy_order_place(
                buyer_id=buyers[n % len(buyers)],
                asset_code="green_crystal",
                quantity=samples + 1 if n == 0 else 10,
                max_unit_price=ASK_PRICE - n % 50,
                idempotency_key=f"{prefix}-{n}",
            )
        (seller,) = self.users(f"{prefix}-seller", 1, {"green_crystal": samples})
        _, latencies = measure(_ask_one, [[seller] * samples])
        quantiles = statistics.quantiles(sorted(latencies), n=100, method="inclusive")
        return quantiles[49] * 1000, quantiles[94] * 1000


def _cross_one(work: tuple[int, str, str]) -> None:
    buyer_id, asset_code, key = work
    buy_order_place(buyer_id=buyer_id, asset_code=asset_code, quantity=1, max_unit_price=ASK_PRICE, idempotency_key=key)


def _ask_one(seller_id: int) -> None:
    listing_create(seller_id=seller_id, asset_code="green_crystal", quantity=1, unit_price=ASK_PRICE)
