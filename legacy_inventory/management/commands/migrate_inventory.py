import json
import sys
import time
from collections import Counter

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from ledger.selectors import asset_codes_by_legacy_name
from legacy_inventory.models import LegacyInventory, Outcome
from legacy_inventory.services import inventory_migrate_rows, legacy_table_exists, round_current


class Command(BaseCommand):
    help = "Move user_inventory into the assets and items tracks, in batches; resumable and idempotent."

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=1000)
        parser.add_argument("--limit", type=int, help="Stop after this many legacy rows.")
        parser.add_argument("--dry-run", action="store_true", help="Compute everything, write nothing.")
        parser.add_argument("--report", help="Write the summary and every unmigrated row to this JSON file.")

    def handle(self, *args, batch_size, limit, dry_run, report, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        if not legacy_table_exists():
            raise CommandError("There is no user_inventory table (already retired?).")
        asset_codes = asset_codes_by_legacy_name()
        round_number = round_current()
        total = LegacyInventory.objects.count()
        total = min(total, limit) if limit else total
        outcomes, problems = Counter(), []
        started = time.monotonic()
        last_id, seen = 0, 0
        with tqdm(total=total, unit="rows", disable=options["verbosity"] == 0, file=sys.stderr) as progress:
            while seen < total:
                size = min(batch_size, total - seen)
                rows = list(LegacyInventory.objects.filter(inventory_id__gt=last_id).order_by("inventory_id")[:size])
                if not rows:
                    break
                records = inventory_migrate_rows(
                    rows=rows, asset_codes=asset_codes, round_number=round_number, dry_run=dry_run
                )
                skipped = len(rows) - len(records)
                outcomes.update(record.outcome for record in records)
                outcomes["already_migrated"] += skipped
                problems += [
                    {"inventory_id": r.inventory_id, "outcome": r.outcome, "reason": r.reason}
                    for r in records
                    if r.outcome in (Outcome.UNMAPPED, Outcome.FAILED)
                ]
                last_id, seen = rows[-1].inventory_id, seen + len(rows)
                progress.update(len(rows))
        elapsed = time.monotonic() - started
        summary = {
            "dry_run": dry_run,
            "round": round_number,
            "rows": seen,
            "seconds": round(elapsed, 2),
            "rows_per_second": round(seen / elapsed) if elapsed else None,
            "outcomes": dict(sorted(outcomes.items())),
        }
        self._print(summary)
        if report:
            with open(report, "w", encoding="utf-8") as file:
                json.dump({**summary, "unmigrated": problems}, file, ensure_ascii=False, indent=2)
            self.stdout.write(f"report written to {report}")

    def _print(self, summary: dict) -> None:
        title = "DRY RUN: nothing was written" if summary["dry_run"] else "migration summary"
        self.stdout.write(f"\n{title} (round {summary['round']})")
        for outcome, count in summary["outcomes"].items():
            self.stdout.write(f"  {outcome:<28} {count:>9}")
        self.stdout.write(f"  {'rows':<28} {summary['rows']:>9}")
        self.stdout.write(f"  {'seconds':<28} {summary['seconds']:>9}")
        self.stdout.write(f"  {'rows/s':<28} {summary['rows_per_second'] or '-':>9}")
