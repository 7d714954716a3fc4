import getpass

from django.core.management.base import BaseCommand, CommandError

from core.errors import BackpackError
from ledger.services import balance_adjust


class Command(BaseCommand):
    help = "Correct a user's balance with a balanced entry against SYSTEM_ADJUSTMENT (audited)."

    def add_arguments(self, parser):
        parser.add_argument("user_id", type=int)
        parser.add_argument("asset_code")
        parser.add_argument("delta", type=int, help="Positive to credit, negative to debit.")
        parser.add_argument("--reason", required=True, help="Why (kept in the audit and the entry).")
        parser.add_argument("--operator", default=getpass.getuser(), help="Who runs this (default: the login).")

    def handle(self, *args, user_id, asset_code, delta, reason, operator, **options):
        try:
            audit = balance_adjust(
                user_id=user_id, asset_code=asset_code, delta=delta, reason=reason, operator=operator
            )
        except BackpackError as error:
            raise CommandError(error.message) from error
        self.stdout.write(
            f"Entry {audit.entry_id}: {asset_code} available {audit.available_before} -> {audit.available_after} "
            f"(audit {audit.pk}, by {operator})."
        )
