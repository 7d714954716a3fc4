from django.core.management.base import BaseCommand, CommandError

from legacy_inventory.models import MigrationRecord
from legacy_inventory.services import inventory_rollback_records, legacy_table_exists, round_start_next


class Command(BaseCommand):
    help = (
        "Undo the migration before retirement, so it can be rehearsed again: items removed, credits "
        "reversed by balancing entries (the journal keeps both), records removed. user_inventory is untouched."
    )

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=1000)
        parser.add_argument("--yes", action="store_true", help="Do not ask for confirmation (scripts).")

    def handle(self, *args, batch_size, yes, **options):
        if not legacy_table_exists():
            raise CommandError("user_inventory is retired: a migration can only be rolled back before retirement.")
        total = MigrationRecord.objects.count()
        if not total:
            self.stdout.write("Nothing to roll back.")
            return
        if not yes and input(f"Roll back {total} migrated rows? [y/N] ").strip().lower() != "y":
            raise CommandError("Cancelled.")
        kept, last_pk = [], 0
        while True:
            records = list(MigrationRecord.objects.filter(pk__gt=last_pk).order_by("pk")[:batch_size])
            if not records:
                break
            kept += inventory_rollback_records(records=records)
            last_pk = records[-1].pk
        number = round_start_next()
        self.stdout.write(f"rolled back {total - len(kept)} of {total} rows; the next run is round {number}")
        for inventory_id, reason in kept[:50]:
            self.stdout.write(f"  kept {inventory_id}: {reason}")
