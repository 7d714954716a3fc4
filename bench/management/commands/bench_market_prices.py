"""Time the price reads of the market (buckets, summary, book) over many trades.

Builds once (later runs reuse it), through bulk inserts, N trades spread over the last 365
days on the six tradable materials priced in DIAMOND, one asset much rarer than the
others, with their sold listings and journal entries, plus listings on sale for the book.
It writes to the database it runs on: point DATABASE_URL at a scratch database.
"""

import random
import statistics
import time
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import connection, transaction
from django.test import override_settings
from django.utils import timezone

from ledger.models import JournalEntry
from market.models import ListingStatus, ListingType, MarketListing, MarketTrade
from market.price_selectors import DAY, HOUR, market_summary, order_book, price_buckets

BUSINESS_TYPE = "bench_market_prices"
KEY_PREFIX = "bench-mp-"
CHUNK = 5000
TRADES_PER_LISTING = 10
# (asset, share of the trades): green_crystal trades rarely, the worst case for "last price".
ASSETS = (
    ("red_shard", 30),
    ("blue_shard", 25),
    ("green_shard", 20),
    ("red_crystal", 15),
    ("blue_crystal", 9.9),
    ("green_crystal", 0.1),
)


class Command(BaseCommand):
    help = "Build N trades (bulk inserts, once) and print how long the price buckets, summary and book take."

    def add_arguments(self, parser):
        parser.add_argument("--trades", type=int, default=100_000)
        parser.add_argument("--on-sale", type=int, default=2_000, help="Asset listings on sale, for the book.")
        parser.add_argument("--repeat", type=int, default=7, help="Runs per read; the median is printed.")

    def handle(self, *args, trades, on_sale, repeat, **options):
        existing = MarketTrade.objects.filter(idempotency_key__startswith=KEY_PREFIX).count()
        if existing < trades:
            started = time.monotonic()
            self._build(trades - existing, start=existing, on_sale=on_sale if not existing else 0)
            self.stdout.write(f"built {trades - existing} trades in {time.monotonic() - started:.1f} s")
        self.stdout.write(
            f"{connection.vendor}: {MarketTrade.objects.count()} trades, "
            f"{MarketListing.objects.filter(status=ListingStatus.ON_SALE).count()} listings on sale"
        )
        now = timezone.now()
        reads = [
            ("buckets 1h, last 24 h, red_shard", lambda: price_buckets(**self.pair("red_shard", HOUR, now, 1))),
            ("buckets 1h, last 31 days, red_shard", lambda: price_buckets(**self.pair("red_shard", HOUR, now, 31))),
            ("buckets 1d, last 365 days, red_shard", lambda: price_buckets(**self.pair("red_shard", DAY, now, 365))),
            (
                "buckets 1d, last 365 days, green_crystal",
                lambda: price_buckets(**self.pair("green_crystal", DAY, now, 365)),
            ),
            ("summary (6 assets)", lambda: market_summary(price_asset_code="DIAMOND")),
            ("book, red_shard, 50 levels", lambda: order_book(asset_code="red_shard", depth=50)),
        ]
        with override_settings(DEBUG=False):
            for label, read in reads:
                timings, rows = [], 0
                for _ in range(repeat):
                    begun = time.perf_counter()
                    rows = len(read())
                    timings.append(time.perf_counter() - begun)
                self.stdout.write(
                    f"  {label:<42} median {statistics.median(timings) * 1000:7.1f} ms"
                    f"  max {max(timings) * 1000:7.1f} ms  ({rows} rows)"
                )

    @staticmethod
    def pair(asset_code: str, interval: str, now, days: int) -> dict:
        return {
            "asset_code": asset_code,
            "price_asset_code": "DIAMOND",
            "interval": interval,
            "since": now - timedelta(days=days),
            "until": now,
        }

    def _build(self, count: int, *, start: int, on_sale: int) -> None:
        User = get_user_model()
        seller, _ = User.objects.get_or_create(username="bench_mp_seller")
        buyer, _ = User.objects.get_or_create(username="bench_mp_buyer")
        rng = random.Random(start)
        now = timezone.now()
        first = now - timedelta(days=365)
        prices = {asset: 100 for asset, _ in ASSETS}
        quote = connection.ops.quote_name
        assets, weights = zip(*ASSETS, strict=True)
        for chunk_start in range(start, start + count, CHUNK):
            numbers = range(chunk_start, min(chunk_start + CHUNK, start + count))
            moments = {n: first + (now - first) * (n - start) / count for n in numbers}
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.executemany(
                    f"INSERT INTO {quote(JournalEntry._meta.db_table)} (business_type, business_id, fingerprint, meta,"
                    " created_at) VALUES (%s, %s, '', '{}', %s)",
                    [(BUSINESS_TYPE, str(n), moments[n]) for n in numbers],
                )
                entry_ids = dict(
                    JournalEntry.objects.filter(
                        business_type=BUSINESS_TYPE, business_id__in=[str(n) for n in numbers]
                    ).values_list("business_id", "pk")
                )
                planned = []
                for group_start in range(numbers.start, numbers.stop, TRADES_PER_LISTING):
                    asset = rng.choices(assets, weights)[0]
                    group = range(group_start, min(group_start + TRADES_PER_LISTING, numbers.stop))
                    sales = []
                    for n in group:
                        prices[asset] = max(1, prices[asset] + rng.randint(-3, 3))
                        sales.append((n, rng.randint(1, 5), prices[asset]))
                    planned.append((asset, sales))
                listings = MarketListing.objects.bulk_create(
                    [
                        MarketListing(
                            seller=seller,
                            listing_type=ListingType.ASSET,
                            asset_id=asset,
                            quantity=sum(q for _, q, _ in sales),
                            quantity_remaining=0,
                            price_asset_id="DIAMOND",
                            unit_price=sales[0][2],
                            status=ListingStatus.SOLD,
                            expires_at=moments[sales[-1][0]],
                            sold_at=moments[sales[-1][0]],
                        )
                        for asset, sales in planned
                    ]
                )
                rows = []
                for listing, (_, sales) in zip(listings, planned, strict=True):
                    for n, quantity, price in sales:
                        total = quantity * price
                        fee = total * 5 // 100
                        parties = (listing.pk, buyer.pk, seller.pk)
                        amounts = (quantity, price, total, fee, total - fee)
                        rows.append((*parties, *amounts, entry_ids[str(n)], f"{KEY_PREFIX}{n}", moments[n]))
                cursor.executemany(
                    f"INSERT INTO {quote(MarketTrade._meta.db_table)} (listing_id, buyer_id, seller_id, quantity,"
                    " unit_price, price_asset_code, total, fee, seller_amount, entry_id, idempotency_key, created_at)"
                    " VALUES (%s, %s, %s, %s, %s, 'DIAMOND', %s, %s, %s, %s, %s, %s)",
                    rows,
                )
        later = now + timedelta(days=14)
        MarketListing.objects.bulk_create(
            [
                MarketListing(
                    seller=seller,
                    listing_type=ListingType.ASSET,
                    asset_id=rng.choices(assets, weights)[0],
                    quantity=(quantity := rng.randint(1, 50)),
                    quantity_remaining=quantity,
                    price_asset_id="DIAMOND",
                    unit_price=rng.randint(80, 140),
                    expires_at=later,
                )
                for _ in range(on_sale)
            ],
            batch_size=CHUNK,
        )
