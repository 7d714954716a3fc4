"""Time a full reconciliation run over a large ledger, with live item locks and listings.

Builds (once; later runs reuse it) balanced journal entries of two legs each, user +n and
SYSTEM_ISSUANCE -n, over many user accounts, with matching balance rows, through bulk
inserts; then, for --items N: N items locked by pending redemption orders, N items locked
by item listings on sale, and N asset listings on sale, each frozen under its own open hold.
It writes to the database it runs on (MariaDB/MySQL): point DATABASE_URL at a scratch database.
"""

import time
import uuid
from datetime import timedelta

from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand
from django.db import connection, transaction
from django.utils import timezone

from items.models import ItemInstance, ItemStatus
from ledger.models import Account, Balance, Hold, JournalEntry, JournalLeg, SystemAccount
from ledger.services import system_account_id
from market.models import HOLD_BUSINESS_TYPE, ListingStatus, ListingType, MarketListing
from operations.reconciliation import CHECKS, reconciliation_run
from redemption.models import OrderStatus, RedemptionOrder, lock_holder

BUSINESS_TYPE = "bench_reconciliation"
CHUNK = 5000


class Command(BaseCommand):
    help = "Build a large balanced ledger (bulk inserts) and print how long reconciliation takes."

    def add_arguments(self, parser):
        parser.add_argument("--legs", type=int, default=1_000_000)
        parser.add_argument("--accounts", type=int, default=50_000)
        parser.add_argument(
            "--items",
            type=int,
            default=50_000,
            help="Items locked by pending orders, and as many by item listings, and as many asset listings.",
        )

    def handle(self, *args, legs, accounts, items, **options):
        entries = legs // 2
        if JournalEntry.objects.filter(business_type=BUSINESS_TYPE).count() < entries:
            started = time.monotonic()
            self._build(entries, accounts)
            self.stdout.write(f"built {entries} entries / {entries * 2} legs in {time.monotonic() - started:.1f} s")
        if items and not ItemInstance.objects.filter(source=BUSINESS_TYPE).exists():
            started = time.monotonic()
            self._build_live_holders(items)
            self.stdout.write(
                f"built {items} pending orders, {items} item listings and {items} asset listings on holds"
                f" in {time.monotonic() - started:.1f} s"
            )
        self.stdout.write(
            f"journal legs: {JournalLeg.objects.count()}, locked items: "
            f"{ItemInstance.objects.filter(status=ItemStatus.LOCKED).count()}, listings on sale: "
            f"{MarketListing.objects.filter(status=ListingStatus.ON_SALE).count()}"
        )
        started = time.monotonic()
        run = reconciliation_run()
        self.stdout.write(
            f"reconciliation: {run.get_status_display()}, {run.discrepancy_count} discrepancies, "
            f"wall time {time.monotonic() - started:.2f} s ({connection.vendor})"
        )
        for check in CHECKS:
            started = time.monotonic()
            check()
            self.stdout.write(f"  {check.__name__:<40} {time.monotonic() - started:6.2f} s")

    def _build(self, entries: int, accounts: int) -> None:
        now = timezone.now()
        issuance = system_account_id(SystemAccount.ISSUANCE)
        quote = connection.ops.quote_name
        with connection.cursor() as cursor:
            password = make_password(None)
            for start in range(0, accounts, CHUNK):
                cursor.executemany(
                    "INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, email, is_staff,"
                    " is_active, date_joined) VALUES (%s, %s, %s, '', '', '', %s, %s, %s)",
                    [
                        (password, False, f"bench_rec_{n}", False, True, now)
                        for n in range(start, min(start + CHUNK, accounts))
                    ],
                )
            cursor.execute(
                f"INSERT INTO {quote(Account._meta.db_table)} (kind, user_id, created_at)"
                " SELECT 'user', id, %s FROM auth_user WHERE username LIKE 'bench\\_rec\\_%%'",
                [now],
            )
        account_ids = list(Account.objects.filter(user__username__startswith="bench_rec_").values_list("pk", flat=True))
        totals = dict.fromkeys(account_ids, 0)
        issuance_row, _ = Balance.objects.get_or_create(
            account_id=issuance, asset_id="DIAMOND", defaults={"allows_negative": True}
        )
        issuance_balance = issued_from = issuance_row.available_amount
        for start in range(0, entries, CHUNK):
            with transaction.atomic(), connection.cursor() as cursor:
                numbers = range(start, min(start + CHUNK, entries))
                cursor.executemany(
                    f"INSERT INTO {quote(JournalEntry._meta.db_table)} (business_type, business_id, fingerprint, meta,"
                    " created_at) VALUES (%s, %s, '', '{}', %s)",
                    [(BUSINESS_TYPE, str(n), now) for n in numbers],
                )
                ids = dict(
                    JournalEntry.objects.filter(
                        business_type=BUSINESS_TYPE, business_id__in=[str(n) for n in numbers]
                    ).values_list("business_id", "pk")
                )
                rows = []
                for n in numbers:
                    account, amount = account_ids[n % len(account_ids)], 1 + n % 97
                    totals[account] += amount
                    issuance_balance -= amount
                    rows.append((ids[str(n)], account, amount, totals[account], now))
                    rows.append((ids[str(n)], issuance, -amount, issuance_balance, now))
                cursor.executemany(
                    f"INSERT INTO {quote(JournalLeg._meta.db_table)} (entry_id, account_id, asset_code, delta_available,"
                    " delta_frozen, available_after, frozen_after, meta, created_at)"
                    " VALUES (%s, %s, 'DIAMOND', %s, 0, %s, 0, '{}', %s)",
                    rows,
                )
        Balance.objects.bulk_create(
            [Balance(account_id=a, asset_id="DIAMOND", available_amount=t) for a, t in totals.items()], batch_size=CHUNK
        )
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {quote(Balance._meta.db_table)} SET available_amount = available_amount - %s"
                " WHERE account_id = %s AND asset_code = 'DIAMOND'",
                [issued_from - issuance_balance, issuance],
            )

    def _build_live_holders(self, count: int) -> None:
        """Items locked by pending orders and by item listings, and asset listings each frozen
        under an open hold of 1 DIAMOND (an entry moving it from available to frozen)."""
        now = timezone.now()
        later = now + timedelta(days=30)
        quote = connection.ops.quote_name
        owners = list(
            Account.objects.filter(user__username__startswith="bench_rec_").order_by("pk").values_list("pk", "user_id")
        )

        def owner(n: int) -> tuple[int, int]:
            return owners[n % len(owners)]

        def item(n: int, kind: str, locked_by: str | None) -> ItemInstance:
            return ItemInstance(
                owner_id=owner(n)[1],
                item_type="voucher",
                name=f"Bench voucher {n}",
                status=ItemStatus.LOCKED if locked_by else ItemStatus.AVAILABLE,
                locked_by=locked_by,
                locked_at=now if locked_by else None,
                source=BUSINESS_TYPE,
                source_ref=f"{kind}-{n}",
            )

        order_ids = [uuid.uuid4() for _ in range(count)]
        ordered = ItemInstance.objects.bulk_create(
            [item(n, "order", lock_holder(order_id)) for n, order_id in enumerate(order_ids)], batch_size=CHUNK
        )
        RedemptionOrder.objects.bulk_create(
            [
                RedemptionOrder(
                    order_id=order_id,
                    code_hash=order_id.hex,
                    item_instance_id=it.pk,
                    customer_id=it.owner_id,
                    status=OrderStatus.PENDING,
                    pending_item_id=it.pk,
                    expires_at=later,
                )
                for order_id, it in zip(order_ids, ordered, strict=True)
            ],
            batch_size=CHUNK,
        )
        listed = ItemInstance.objects.bulk_create([item(n, "listing", None) for n in range(count)], batch_size=CHUNK)

        def listing(n: int, **kind) -> MarketListing:
            return MarketListing(
                seller_id=owner(n)[1], price_asset_id="blue_shard", unit_price=10, expires_at=later, **kind
            )

        MarketListing.objects.bulk_create(
            [listing(n, listing_type=ListingType.ITEM, item_instance_id=it.pk) for n, it in enumerate(listed)],
            batch_size=CHUNK,
        )
        asset_listings = MarketListing.objects.bulk_create(
            [
                listing(n, listing_type=ListingType.ASSET, asset_id="DIAMOND", quantity=1, quantity_remaining=1)
                for n in range(count)
            ],
            batch_size=CHUNK,
        )
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {quote(ItemInstance._meta.db_table)} i JOIN {quote(MarketListing._meta.db_table)} l"
                " ON l.item_instance_id = i.id SET i.status = %s, i.locked_by = CONCAT(%s, l.id), i.locked_at = %s"
                " WHERE i.source = %s",
                [ItemStatus.LOCKED, "market:", now, BUSINESS_TYPE],
            )
            for start in range(0, count, CHUNK):
                chunk = asset_listings[start : start + CHUNK]
                cursor.executemany(
                    f"INSERT INTO {quote(JournalEntry._meta.db_table)} (business_type, business_id, fingerprint, meta,"
                    " created_at) VALUES (%s, %s, '', '{}', %s)",
                    [(HOLD_BUSINESS_TYPE, str(lst.pk), now) for lst in chunk],
                )
                entry_ids = dict(
                    JournalEntry.objects.filter(
                        business_type=HOLD_BUSINESS_TYPE, business_id__in=[str(lst.pk) for lst in chunk]
                    ).values_list("business_id", "pk")
                )
                cursor.executemany(
                    f"INSERT INTO {quote(JournalLeg._meta.db_table)} (entry_id, account_id, asset_code, delta_available,"
                    " delta_frozen, available_after, frozen_after, meta, created_at)"
                    " VALUES (%s, %s, 'DIAMOND', -1, 1, 0, 1, '{}', %s)",
                    [(entry_ids[str(lst.pk)], owner(start + n)[0], now) for n, lst in enumerate(chunk)],
                )
                holds = Hold.objects.bulk_create(
                    [
                        Hold(
                            account_id=owner(start + n)[0],
                            asset_id="DIAMOND",
                            amount=1,
                            remaining=1,
                            entry_id=entry_ids[str(lst.pk)],
                        )
                        for n, lst in enumerate(chunk)
                    ]
                )
                cursor.executemany(
                    f"UPDATE {quote(MarketListing._meta.db_table)} SET hold_id = %s WHERE id = %s",
                    [(hold.pk, lst.pk) for hold, lst in zip(holds, chunk, strict=True)],
                )
            cursor.execute(
                f"UPDATE {quote(Balance._meta.db_table)} b JOIN (SELECT h.account_id, SUM(h.amount) AS frozen"
                f" FROM {quote(Hold._meta.db_table)} h JOIN {quote(JournalEntry._meta.db_table)} e ON e.id = h.entry_id"
                " WHERE e.business_type = %s GROUP BY h.account_id) f ON f.account_id = b.account_id"
                " SET b.available_amount = b.available_amount - f.frozen, b.frozen_amount = b.frozen_amount + f.frozen"
                " WHERE b.asset_code = 'DIAMOND'",
                [HOLD_BUSINESS_TYPE],
            )
