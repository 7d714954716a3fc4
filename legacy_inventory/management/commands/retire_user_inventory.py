from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from core.authority import actor_by_username
from core.errors import BackpackError
from legacy_inventory.reconciliation import reconcile
from legacy_inventory.services import (
    DROP_AFTER_DAYS,
    deprecated_table_drop,
    deprecated_tables,
    inventory_table_retire,
    legacy_table_exists,
)


class Command(BaseCommand):
    help = (
        "Rename user_inventory to _deprecated_user_inventory_<YYYYMMDD> once reconciliation passes; "
        f"--drop removes retired tables at least {DROP_AFTER_DAYS} days old."
    )

    def add_arguments(self, parser):
        parser.add_argument("--drop", action="store_true", help="Drop retired legacy tables old enough.")
        parser.add_argument("--yes", action="store_true", help="Do not ask for confirmation (scripts).")
        parser.add_argument(
            "--operator",
            required=True,
            help="Your username: it needs the legacy_inventory.retire_inventory permission.",
        )

    def handle(self, *args, drop, yes, operator, **options):
        today = timezone.localdate()
        try:
            actor = actor_by_username(operator)
            if not actor.has_perm("legacy_inventory.retire_inventory"):
                raise CommandError(f"{operator} may not retire the legacy table (legacy_inventory.retire_inventory).")
        except BackpackError as error:
            raise CommandError(error.message) from error
        if drop:
            return self._drop(today, yes, actor)
        if not legacy_table_exists():
            raise CommandError("There is no user_inventory table: it is already retired.")
        failed = [result["check"] for result in reconcile() if not result["passed"]]
        if failed:
            raise CommandError(
                "Refusing to retire user_inventory: reconciliation fails on "
                + "; ".join(failed)
                + ". Run reconcile_inventory_migration for the details."
            )
        self.stdout.write(f"user_inventory renamed to {inventory_table_retire(actor=actor, today=today)}")

    def _drop(self, today, yes, actor):
        tables = deprecated_tables(today=today)
        if not tables:
            self.stdout.write("No retired legacy table.")
        for name, retired, old_enough in tables:
            if not old_enough:
                self.stdout.write(f"{name}: retired {retired}, kept until it is {DROP_AFTER_DAYS} days old")
                continue
            if not yes and input(f"Drop {name} (retired {retired}) for good? Type the table name: ") != name:
                self.stdout.write(f"{name}: kept")
                continue
            deprecated_table_drop(actor=actor, name=name, today=today)
            self.stdout.write(f"{name}: dropped")
