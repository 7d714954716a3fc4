from django.core.management.base import BaseCommand, CommandError

from core.authority import actor_by_username
from core.errors import BackpackError
from ledger.models import Balance
from ledger.selectors import journal_sums
from ledger.services import balance_recalculate


class Command(BaseCommand):
    help = "Show a balance row beside the sum of its journal legs; --apply sets the row to the journal (audited)."

    def add_arguments(self, parser):
        parser.add_argument("account_id", type=int)
        parser.add_argument("asset_code")
        parser.add_argument("--reason", required=True, help="Why (kept in the audit).")
        parser.add_argument("--apply", action="store_true", help="Set the row to the journal under a row lock.")
        parser.add_argument(
            "--operator", required=True, help="Your username: it needs the ledger.recalculate_balance permission."
        )

    def handle(self, *args, account_id, asset_code, reason, apply, operator, **options):
        if not reason.strip():
            raise CommandError("--reason must say why.")
        row = (
            Balance.objects.filter(account_id=account_id, asset_id=asset_code)
            .values("available_amount", "frozen_amount")
            .first()
        )
        if row is None:
            raise CommandError(f"Account {account_id} has no {asset_code} balance row.")
        journal = journal_sums(account_id=account_id, asset_code=asset_code)
        self.stdout.write(f"{'':<10} {'available':>14} {'frozen':>14}")
        self.stdout.write(f"{'row':<10} {row['available_amount']:>14} {row['frozen_amount']:>14}")
        self.stdout.write(f"{'journal':<10} {journal['available']:>14} {journal['frozen']:>14}")
        self.stdout.write(
            f"{'difference':<10} {row['available_amount'] - journal['available']:>14} "
            f"{row['frozen_amount'] - journal['frozen']:>14}"
        )
        if not apply:
            self.stdout.write("Nothing changed; --apply sets the row to the journal.")
            return
        try:
            actor = actor_by_username(operator)
            audit = balance_recalculate(actor=actor, account_id=account_id, asset_code=asset_code, reason=reason)
        except BackpackError as error:
            raise CommandError(error.message) from error
        self.stdout.write(
            f"Applied: row is now {audit.available_after}/{audit.frozen_after} (audit {audit.pk}, by {operator})."
        )
