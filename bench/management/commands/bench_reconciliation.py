"""Time reconciliation, full and incremental, and the seal over a large ledger with live item locks and listings.

Builds (once; later runs reuse it) balanced journal entries of two legs each, user +n and SYSTEM_ISSUANCE -n,
over many user accounts, with matching balance rows, in INSERT ... SELECT statements over MariaDB's sequence
tables (`seq_0_to_N`), dated a day back so that a checkpoint may cover them; then, for --items N: N items
locked by pending orders, N items locked by item listings on sale, and N asset listings on sale, each frozen
under its own open hold. Then: seal everything, a full run (it writes a checkpoint), --new-legs more legs,
seal them, an incremental run, a drift planted on a row with old legs only and one on a row with new legs
(both runs must find both; the drift is undone after), and journal_verify in full and since the checkpoint.
Prints wall times and the process's peak memory. It writes to the database it runs on (MariaDB): point
DATABASE_URL at a scratch database. `available_after` of the built legs is the leg's own amount, not a
running balance: no check reads it.
"""

import resource
import time
import uuid
from datetime import timedelta

from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from items.models import ItemInstance, ItemStatus
from ledger.checkpoints import checkpoint_latest
from ledger.models import Account, Balance, Hold, JournalEntry, JournalLeg, SystemAccount
from ledger.reconciliation import LEDGER_CHECKS
from ledger.seal import block_latest, journal_seal, journal_verify
from ledger.services import system_account_id
from market.models import HOLD_BUSINESS_TYPE, ListingStatus, ListingType, MarketListing
from operations.reconciliation import LIVE_CHECKS, reconciliation_run
from redemption.models import OrderStatus, RedemptionOrder, lock_holder

BUSINESS_TYPE = "bench_reconciliation"
CHUNK = 5000
SQL_CHUNK = 500_000  # entries per INSERT ... SELECT


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Command(BaseCommand):
    help = "Build a large balanced ledger (bulk SQL) and print how long full and incremental reconciliation and the seal take."

    def add_arguments(self, parser):
        parser.add_argument("--legs", type=int, default=1_000_000)
        parser.add_argument("--accounts", type=int, default=50_000)
        parser.add_argument(
            "--items",
            type=int,
            default=50_000,
            help="Items locked by pending orders, and as many by item listings, and as many asset listings.",
        )
        parser.add_argument("--new-legs", type=int, default=100_000, help="Legs added after the full run.")

    def handle(self, *args, legs, accounts, items, new_legs, **options):
        if connection.vendor != "mysql":
            raise CommandError("The benchmark builds its journal with MariaDB's sequence tables.")
        if not JournalEntry.objects.filter(business_type=BUSINESS_TYPE).exists():
            started = time.monotonic()
            self._build_accounts(accounts)
            self._add_entries(legs // 2, at=timezone.now() - timedelta(days=1), accounts=accounts)
            self.stdout.write(f"built {legs // 2} entries / {legs} legs in {time.monotonic() - started:.1f} s")
        if items and not ItemInstance.objects.filter(source=BUSINESS_TYPE).exists():
            started = time.monotonic()
            self._build_live_holders(items)
            self.stdout.write(
                f"built {items} pending orders, {items} item listings and {items} asset listings on holds"
                f" in {time.monotonic() - started:.1f} s"
            )
        self.stdout.write(
            f"journal legs: {JournalLeg.objects.count()}, balance rows: {Balance.objects.count()}, locked items: "
            f"{ItemInstance.objects.filter(status=ItemStatus.LOCKED).count()}, listings on sale: "
            f"{MarketListing.objects.filter(status=ListingStatus.ON_SALE).count()} ({connection.vendor})"
        )
        self._timed("seal", lambda: f"{sum(b.entry_count for b in journal_seal())} entries")
        self._timed("today's checks, one by one", self._todays_checks)
        self._timed("full run", lambda: self._run(full=True))
        sealed_before = block_latest()
        # The new legs go to half of the accounts: the other half has only legs older than the checkpoint.
        self._timed(
            f"add {new_legs} legs",
            lambda: self._add_entries(new_legs // 2, at=timezone.now(), accounts=max(accounts // 2, 1)),
        )
        self._timed("seal the new entries", lambda: f"{sum(b.entry_count for b in journal_seal())} entries")
        self._timed("incremental run", lambda: self._run(full=False))
        old, new = self._plant_drift(+1)
        try:
            for full in (False, True):
                self._timed(f"{'full' if full else 'incremental'} run, drift planted", lambda f=full: self._run(full=f))
        finally:
            self._plant_drift(-1, accounts=(old, new))
        self._timed("journal_verify, every block", lambda: self._verify(1))
        since = sealed_before.number + 1 if sealed_before else 1
        self._timed(f"journal_verify of the new blocks ({since} on)", lambda: self._verify(since))

    def _timed(self, label: str, call) -> None:
        started = time.monotonic()
        outcome = call()
        self.stdout.write(
            f"{label:<40} {time.monotonic() - started:8.2f} s   peak {peak_mb():7.0f} MB   {outcome or ''}"
        )

    def _run(self, *, full: bool) -> str:
        run = reconciliation_run(full=full)
        found = {check: count for check, count in run.checks.items() if count}
        return f"{run.kind}: {run.get_status_display()}, {run.discrepancy_count} discrepancies {found or ''}"

    def _todays_checks(self) -> str:
        times = []
        for check in (*LEDGER_CHECKS, *LIVE_CHECKS):
            started = time.monotonic()
            check()
            times.append(f"{check.__name__} {time.monotonic() - started:.2f}")
        return "; ".join(times)

    def _verify(self, from_block: int) -> str:
        found = journal_verify(from_block=from_block)
        return f"{found.blocks} blocks, {found.entries} entries, {len(found.problems)} problems, {len(found.pending)} pending"

    def _plant_drift(self, amount: int, *, accounts: tuple[int, int] | None = None) -> tuple[int, int]:
        """+amount on a user row whose legs are all older than the checkpoint, and on one with new legs."""
        if accounts is None:
            since = checkpoint_latest().through_leg_id
            new = (
                JournalLeg.objects.filter(pk__gt=since, delta_available__gt=0)
                .order_by("-pk")
                .values_list("account_id", flat=True)[0]
            )
            old = (
                Balance.objects.filter(account__user__username__startswith="bench_rec_")
                .exclude(account_id__in=JournalLeg.objects.filter(pk__gt=since).values("account_id"))
                .values_list("account_id", flat=True)
                .first()
            )
            accounts = (old, new)
        Balance.objects.filter(account_id__in=accounts, asset_id="DIAMOND").update(
            available_amount=F("available_amount") + amount
        )
        return accounts

    def _build_accounts(self, accounts: int) -> None:
        now = timezone.now()
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

    def _add_entries(self, entries: int, *, at, accounts: int) -> str:
        """`entries` more entries of two legs (user +n, issuance -n) over the first `accounts` bench accounts,
        by INSERT ... SELECT, and their balances."""
        quote = connection.ops.quote_name
        entry_table, leg_table, balance_table = (
            quote(model._meta.db_table) for model in (JournalEntry, JournalLeg, Balance)
        )
        issuance = system_account_id(SystemAccount.ISSUANCE)
        Balance.objects.get_or_create(account_id=issuance, asset_id="DIAMOND", defaults={"allows_negative": True})
        users = list(
            Account.objects.filter(user__username__startswith="bench_rec_").order_by("pk").values_list("pk", flat=True)
        )[:accounts]
        first = JournalEntry.objects.filter(business_type=BUSINESS_TYPE).count()
        first_leg = JournalLeg.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        at = connection.ops.adapt_datetimefield_value(at)
        with connection.cursor() as cursor:
            cursor.execute("CREATE TEMPORARY TABLE IF NOT EXISTS bench_accounts (n INT PRIMARY KEY, account_id BIGINT)")
            cursor.execute("DELETE FROM bench_accounts")
            for start in range(0, len(users), CHUNK):
                cursor.executemany(
                    "INSERT INTO bench_accounts VALUES (%s, %s)",
                    list(enumerate(users[start : start + CHUNK], start)),
                )
            amount = "1 + CAST(e.business_id AS UNSIGNED) MOD 97"
            for start in range(first, first + entries, SQL_CHUNK):
                end = min(start + SQL_CHUNK, first + entries) - 1
                with transaction.atomic():
                    above = JournalEntry.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
                    cursor.execute(
                        f"INSERT INTO {entry_table} (business_type, business_id, fingerprint, meta, created_at)"
                        f" SELECT %s, seq, '', '{{}}', %s FROM seq_{start}_to_{end}",
                        [BUSINESS_TYPE, at],
                    )
                    for account, sign in (("a.account_id", ""), ("%s", "-")):
                        cursor.execute(
                            f"INSERT INTO {leg_table} (entry_id, account_id, asset_code, delta_available, delta_frozen,"
                            f" available_after, frozen_after, meta, created_at)"
                            f" SELECT e.id, {account}, 'DIAMOND', {sign}({amount}), 0, {sign}({amount}), 0, '{{}}', %s"
                            f" FROM {entry_table} e JOIN bench_accounts a"
                            f" ON a.n = CAST(e.business_id AS UNSIGNED) MOD {len(users)}"
                            " WHERE e.id > %s AND e.business_type = %s ORDER BY e.id",
                            ([issuance] if sign else []) + [at, above, BUSINESS_TYPE],
                        )
            cursor.execute(
                f"INSERT INTO {balance_table} (account_id, asset_code, available_amount, frozen_amount, allows_negative,"
                f" updated_at) SELECT account_id, 'DIAMOND', SUM(delta_available), 0, account_id = %s, %s"
                f" FROM {leg_table} WHERE id > %s GROUP BY account_id"
                " ON DUPLICATE KEY UPDATE available_amount = available_amount + VALUES(available_amount)",
                [issuance, at, first_leg],
            )
        return f"{entries} entries"

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
