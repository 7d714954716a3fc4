from django.core.management.base import BaseCommand, CommandError

from core.authority import actor_by_username
from core.errors import BackpackError
from ledger.services import balance_adjust


class Command(BaseCommand):
    help = "Correct a user's balance with a balanced entry against SYSTEM_ADJUSTMENT (audited)."

    def add_arguments(self, parser):
        parser.add_argument("user_id", type=int)
        parser.add_argument("asset_code")
        parser.add_argument("delta", type=int, help="Positive to credit, negative to debit.")
        parser.add_argument("--reason", required=True, help="Why (kept in the audit and the entry).")
        parser.add_argument(
            "--operator", required=True, help="Your username: it needs the ledger.adjust_balance permission."
        )
        parser.add_argument(
            "--key",
            required=True,
            help="A unique name for this correction (a ticket id): a rerun with it changes nothing.",
        )

    def handle(self, *args, user_id, asset_code, delta, reason, operator, key, **options):
        try:
            audit = balance_adjust(
                actor=actor_by_username(operator),
                user_id=user_id,
                asset_code=asset_code,
                delta=delta,
                reason=reason,
                key=key,
            )
        except BackpackError as error:
            raise CommandError(error.message) from error
        self.stdout.write(
            f"Entry {audit.entry_id}: {asset_code} available {audit.available_before} -> {audit.available_after} "
            f"(audit {audit.pk}, by {operator})."
        )
