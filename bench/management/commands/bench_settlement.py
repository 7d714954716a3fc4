"""Time the counter's totals and the settlement report for one merchant with many redemptions.

Builds once (later runs reuse it), with INSERT … SELECT over MariaDB's sequence tables,
N used vouchers of three kinds and their fulfilled orders at merchant BENCHSETTLE, spread
over the last 60 days; then prints each read's median time. MariaDB only (the sequence
engine); point DATABASE_URL at a scratch database.
"""

import statistics
import time
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.test import override_settings
from django.utils import timezone

from core.timeseries import local_midnight
from items.models import ItemInstance
from redemption import selectors
from redemption.models import Merchant, RedemptionOrder
from redemption.services import merchant_get_or_create

SOURCE = "bench_settlement"
CHUNK = 100_000


class Command(BaseCommand):
    help = "Build N redemptions at one merchant (once) and print how long its counter totals and settlement take."

    def add_arguments(self, parser):
        parser.add_argument("--redemptions", type=int, default=1_000_000)
        parser.add_argument("--repeat", type=int, default=5)

    def handle(self, *args, redemptions, repeat, **options):
        if connection.vendor != "mysql" or not connection.mysql_is_mariadb:
            raise CommandError("bench_settlement builds its data with MariaDB's sequence tables: run it on MariaDB.")
        merchant = merchant_get_or_create(code="BENCHSETTLE", name="Bench settlement")
        existing = ItemInstance.objects.filter(source=SOURCE).count()
        if existing < redemptions:
            started = time.monotonic()
            self._build(merchant, start=existing, count=redemptions - existing)
            self.stdout.write(f"built {redemptions - existing} redemptions in {time.monotonic() - started:.1f} s")
        now = timezone.now()
        today = timezone.localdate(now)
        month_start = local_midnight(today.replace(day=1))
        reads = [
            (
                "counter: today and this month",
                lambda: selectors.counter_totals(
                    merchant_ids=[merchant.pk], day_start=local_midnight(today), month_start=month_start, now=now
                ),
            ),
            (
                "settlement by voucher, last 30 days",
                lambda: selectors.settlement_by_voucher(
                    merchant_id=merchant.pk, since=now - timedelta(days=30), until=now
                ),
            ),
            (
                "settlement, all merchants, last 30 days",
                lambda: selectors.settlement_by_merchant(since=now - timedelta(days=30), until=now),
            ),
        ]
        fulfilled = RedemptionOrder.objects.filter(merchant=merchant, fulfilled_at__gte=now - timedelta(days=30))
        self.stdout.write(f"{merchant.code}: {fulfilled.count()} redemptions in the last 30 days")
        with override_settings(DEBUG=False):
            for label, read in reads:
                timings = []
                for _ in range(repeat):
                    begun = time.perf_counter()
                    read()
                    timings.append(time.perf_counter() - begun)
                self.stdout.write(f"  {label:<42} median {statistics.median(timings) * 1000:8.1f} ms")

    def _build(self, merchant: Merchant, *, start: int, count: int) -> None:
        customer, _ = get_user_model().objects.get_or_create(username="bench_settle_customer")
        quote = connection.ops.quote_name
        items, orders = quote(ItemInstance._meta.db_table), quote(RedemptionOrder._meta.db_table)
        for first in range(start + 1, start + count + 1, CHUNK):
            last = min(first + CHUNK - 1, start + count)
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {items}")
                (after,) = cursor.fetchone()
                cursor.execute(
                    f"INSERT INTO {items} (owner_id, item_type, name, meta, status, merchant_code, source, source_ref,"
                    " created_at, updated_at)"
                    " SELECT %s, IF(seq %% 3 = 2, 'product', 'voucher'), ELT(1 + seq %% 3, 'Set lunch', 'Tea', 'Noodles'),"
                    " JSON_OBJECT('value', ELT(1 + seq %% 3, 3800, 900, 2600)), 'used', %s, %s, seq, NOW(6), NOW(6)"
                    f" FROM seq_{first}_to_{last}",
                    [customer.pk, merchant.code, SOURCE],
                )
                # Fulfilled over the last 60 days, a few seconds apart.
                cursor.execute(
                    f"INSERT INTO {orders} (order_id, code_hash, item_instance_id, customer_id, redeemer_id, merchant_id,"
                    " status, pending_item_id, expires_at, fulfilled_at, face_value, created_at, updated_at)"
                    " SELECT REPLACE(UUID(), '-', ''), CONCAT('history:bench-settle-', source_ref), id, %s, NULL, %s,"
                    " 'fulfilled', NULL, at, at, ELT(1 + source_ref %% 3, 3800, 900, 2600), at, at"
                    " FROM (SELECT id, source_ref, UTC_TIMESTAMP(6) - INTERVAL ((source_ref * 5) %% 5184000) SECOND AS at"
                    f" FROM {items} WHERE id > %s AND source = %s) fulfilled",
                    [customer.pk, merchant.pk, after, SOURCE],
                )
