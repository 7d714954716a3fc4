"""Time a full reconciliation run over a large ledger.

Builds (once; later runs reuse it) balanced journal entries of two legs each, user +n and
SYSTEM_ISSUANCE -n, over many user accounts, with matching balance rows, through bulk
inserts. It writes to the database it runs on: point DATABASE_URL at a scratch database.
"""

import time

from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand
from django.db import connection, transaction
from django.utils import timezone

from backpack_site.reconciliation import reconciliation_run
from ledger.models import Account, Balance, JournalEntry, JournalLeg, SystemAccount
from ledger.services import system_account_id

BUSINESS_TYPE = "bench_reconciliation"
CHUNK = 5000


class Command(BaseCommand):
    help = "Build a large balanced ledger (bulk inserts) and print how long reconciliation takes."

    def add_arguments(self, parser):
        parser.add_argument("--legs", type=int, default=1_000_000)
        parser.add_argument("--accounts", type=int, default=50_000)

    def handle(self, *args, legs, accounts, **options):
        entries = legs // 2
        if JournalEntry.objects.filter(business_type=BUSINESS_TYPE).count() < entries:
            started = time.monotonic()
            self._build(entries, accounts)
            self.stdout.write(f"built {entries} entries / {entries * 2} legs in {time.monotonic() - started:.1f} s")
        self.stdout.write(f"journal legs in the database: {JournalLeg.objects.count()}")
        started = time.monotonic()
        run = reconciliation_run()
        self.stdout.write(
            f"reconciliation: {run.get_status_display()}, {run.discrepancy_count} discrepancies, "
            f"wall time {time.monotonic() - started:.2f} s ({connection.vendor})"
        )

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
