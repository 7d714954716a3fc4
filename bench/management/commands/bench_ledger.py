"""Transfers per second and SQL statements per transfer of `ledger.services.transfer`, and of balance reads.

Each worker moves 1 DIAMOND at a time from its own user to another (its own pair: the workers share no
row), each transfer its own transaction with every guarantee: row locks, the overdraft refusal, the
idempotency key, the balanced entry checked before commit. The numbers compare with django-hordak's
`transfer_to` measured the same way (the README's "Benchmarks"). Data is created through the services in
the configured database and left there (users named bench-ledger-<tag>-…).
"""

import statistics
import uuid

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.test import override_settings

from bench.harness import measure, statements
from ledger.selectors import balance_get
from ledger.services import asset_grant, balance_change, transfer

ASSET = "DIAMOND"


class Command(BaseCommand):
    help = "Benchmark ledger transfers and balance reads at 1 and 4 threads; print statements per operation."

    def add_arguments(self, parser):
        parser.add_argument("--threads", default="1,4", help="Comma-separated thread counts.")
        parser.add_argument("--per-thread", type=int, default=1000, help="Operations per thread and run.")
        parser.add_argument("--force", action="store_true", help="Run even when DEBUG is off.")

    def handle(self, *args, threads, per_thread, force, **options):
        if not settings.DEBUG and not force:
            raise CommandError("bench_ledger writes test data; it runs only with DEBUG on (or --force).")
        tag = uuid.uuid4().hex[:8]
        self.stdout.write(f"database: {connection.vendor} {connection.settings_dict.get('NAME')}, run tag {tag}")
        pair = self.pairs(f"{tag}-count", 1, 10)[0]
        _transfer((*pair, f"{tag}-warm"))  # the payee's balance row and the issuance slot exist from here on
        issuer = get_user_model().objects.create_superuser(username=f"bench-ledger-{tag}-issuer")
        asset_grant(
            actor=issuer, user_id=pair[1], asset_code=ASSET, amount=1, business_type="bench", business_id=f"{tag}-w"
        )
        counts = {
            "transfer": statements(lambda: _transfer((*pair, f"{tag}-count"))),
            "grant (asset_grant)": statements(
                lambda: asset_grant(
                    actor=issuer, user_id=pair[1], asset_code=ASSET, amount=1, business_type="bench", business_id=tag
                )
            ),
            "balance read": statements(lambda: _read((pair[0], None))),
        }
        self.stdout.write(
            "statements per operation, BEGIN and COMMIT included: "
            + ", ".join(f"{name} {count}" for name, count in counts.items())
        )
        rows = []
        with override_settings(DEBUG=False):  # no query log, as in production
            for count in [int(n) for n in threads.split(",") if n]:
                pairs = self.pairs(f"{tag}-t{count}", count, per_thread)
                work = [[(*pairs[i], f"{tag}-t{count}-{i}-{n}") for n in range(per_thread)] for i in range(count)]
                rows.append(self.row("transfer", count, measure(_transfer, work), counts["transfer"]))
                self.check_books(pairs, per_thread)
                reads = [[(pairs[i][0], None)] * per_thread for i in range(count)]
                rows.append(self.row("balance read", count, measure(_read, reads), counts["balance read"]))
        self.stdout.write("")
        self.stdout.write("| operation | threads | operations | per second | p50 ms | p95 ms | statements |")
        self.stdout.write("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
        for row in rows:
            self.stdout.write(
                f"| {row['operation']} | {row['threads']} | {row['operations']} | {row['per_second']:.0f} "
                f"| {row['p50_ms']:.2f} | {row['p95_ms']:.2f} | {row['statements']} |"
            )

    def pairs(self, run_id: str, count: int, funds: int) -> list[tuple[int, int]]:
        """`count` (payer, payee) user pairs, each payer granted `funds` DIAMOND."""
        User = get_user_model()
        pairs = []
        for index in range(count):
            payer = User.objects.create(username=f"bench-ledger-{run_id}-p{index}")
            payee = User.objects.create(username=f"bench-ledger-{run_id}-r{index}")
            balance_change(
                user_id=payer.pk, asset_code=ASSET, delta=funds, business_type="bench_grant", business_id=payer.username
            )
            pairs.append((payer.pk, payee.pk))
        return pairs

    def check_books(self, pairs: list[tuple[int, int]], per_thread: int) -> None:
        for _payer, payee in pairs:
            if balance_get(user_id=payee, asset_code=ASSET)["available_amount"] != per_thread:
                raise CommandError(f"user {payee} did not receive {per_thread} {ASSET}")

    def row(self, operation: str, threads: int, measured: tuple[float, list[float]], count: int) -> dict:
        elapsed, samples = measured
        cuts = statistics.quantiles(sorted(samples), n=100, method="inclusive")
        return {
            "operation": operation,
            "threads": threads,
            "operations": len(samples),
            "per_second": len(samples) / elapsed,
            "p50_ms": cuts[49] * 1000,
            "p95_ms": cuts[94] * 1000,
            "statements": count,
        }


def _transfer(work: tuple[int, int, str]) -> None:
    payer, payee, key = work
    transfer(from_user_id=payer, to_user_id=payee, asset_code=ASSET, amount=1, business_type="bench", business_id=key)


def _read(work: tuple[int, None]) -> None:
    balance_get(user_id=work[0], asset_code=ASSET)
