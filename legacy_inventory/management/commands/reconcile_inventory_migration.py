import json
import sys

from django.core.management.base import BaseCommand, CommandError

from legacy_inventory.reconciliation import reconcile
from legacy_inventory.services import legacy_table_exists


class Command(BaseCommand):
    help = "Prove the migration moved every legacy row exactly once; exit status 0 only when every check passes."

    def add_arguments(self, parser):
        parser.add_argument("--report", help="Write every check with samples of what differs to this JSON file.")

    def handle(self, *args, report, **options):
        if not legacy_table_exists():
            raise CommandError("There is no user_inventory table (already retired?).")
        results = reconcile()
        self.stdout.write(f"{'check':<34} {'result':<7} {'problems':>8}  detail")
        for result in results:
            verdict = "PASS" if result["passed"] else "FAIL"
            self.stdout.write(f"{result['check']:<34} {verdict:<7} {result['problems']:>8}  {result['detail']}")
            for sample in result["sample"][:5]:
                self.stdout.write(f"    {sample}")
        passed = all(result["passed"] for result in results)
        self.stdout.write("reconciliation PASSED" if passed else "reconciliation FAILED")
        if report:
            with open(report, "w", encoding="utf-8") as file:
                json.dump({"passed": passed, "checks": results}, file, ensure_ascii=False, indent=2, default=str)
        if not passed:
            sys.exit(1)
