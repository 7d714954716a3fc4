"""Benchmark GET /api/v4/backpack through the full request path: URL, JWT auth, view, JSON.

Prints p50/p95/p99 latency for a user with each number of items and all seven assets: the full
answer (200), and the conditional one (If-None-Match with the current ETag: 304), with the SQL
statements of one request of each.
Run it against MariaDB (DATABASE_URL) after `manage.py migrate`; its data is kept under
users named bench_backpack_<items> and reused by the next run.
"""

import statistics
import time

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from rest_framework_simplejwt.tokens import AccessToken

from items.models import ItemInstance, ItemStatus, ItemType
from ledger.models import AssetType
from ledger.services import balance_change

ITEM_TYPES = list(ItemType.values)


class Command(BaseCommand):
    help = "Measure backpack latency (p50/p95/p99) with 1,000 and 10,000 items."

    def add_arguments(self, parser):
        parser.add_argument("--sizes", default="1000,10000", help="Comma-separated item counts.")
        parser.add_argument("--requests", type=int, default=200)

    def handle(self, *args, sizes, requests, **options):
        self.stdout.write(f"database: {connection.vendor} {connection.settings_dict['NAME']}")
        self.stdout.write(
            f"{'items':>7} {'answer':>6} {'requests':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'bytes':>9} {'SQL':>4}"
        )
        for size in [int(s) for s in sizes.split(",")]:
            user = self._user_with(size)
            with override_settings(DEBUG=False):  # as in production: no query log
                self._measure(user, size, requests)

    def _measure(self, user, size: int, requests: int) -> None:
        client = Client(headers={"Authorization": f"Bearer {AccessToken.for_user(user)}"})
        etag = client.get("/api/v4/backpack")["ETag"]
        for label, headers, status in (("200", {}, 200), ("304", {"If-None-Match": etag}, 304)):
            for _ in range(10):  # warm-up: connections, caches
                client.get("/api/v4/backpack", headers=headers)
            timings = []
            for _ in range(requests):
                started = time.perf_counter()
                response = client.get("/api/v4/backpack", headers=headers)
                timings.append((time.perf_counter() - started) * 1000)
                assert response.status_code == status, response.content[:200]
            with CaptureQueriesContext(connection) as queries:
                client.get("/api/v4/backpack", headers=headers)
            cuts = statistics.quantiles(timings, n=100)
            self.stdout.write(
                f"{size:>7} {label:>6} {requests:>8} {cuts[49]:>8.1f} {cuts[94]:>8.1f} {cuts[98]:>8.1f} "
                f"{len(response.content):>9} {len(queries):>4}"
            )

    def _user_with(self, size: int):
        user, _ = get_user_model().objects.get_or_create(username=f"bench_backpack_{size}")
        for n, asset_code in enumerate(AssetType.objects.values_list("pk", flat=True)):
            balance_change(
                user_id=user.pk,
                asset_code=asset_code,
                delta=1000 + n,
                business_type="bench_seed",
                business_id=f"{user.pk}:{asset_code}",
            )
        missing = size - ItemInstance.objects.filter(owner=user).count()
        # Benchmark fixture rows, inserted in bulk: granting them one by one would only slow the set-up.
        ItemInstance.objects.bulk_create(
            (
                ItemInstance(
                    owner=user,
                    item_type=ITEM_TYPES[n % len(ITEM_TYPES)],
                    name=f"Bench item {n}",
                    meta={"description": "A benchmark item with a typical description", "value": 1000 + n, "icon": "🎟"},
                    status=ItemStatus.AVAILABLE,
                    source="bench",
                    source_ref=f"{user.pk}:{n}:{time.time_ns()}",
                )
                for n in range(max(missing, 0))
            ),
            batch_size=2000,
        )
        return user
