import sys

from django.core.management.base import BaseCommand

from operations.models import RunStatus
from operations.reconciliation import reconciliation_run


class Command(BaseCommand):
    help = (
        "Run the reconciliation checks (what changed since the last checkpoint; --full: everything), store the"
        " run, alert on any discrepancy; exit status 1 if any."
    )

    def add_arguments(self, parser):
        parser.add_argument("--full", action="store_true", help="Every leg, the last checkpoint and the whole seal.")

    def handle(self, *args, full, **options):
        run = reconciliation_run(full=full)
        seconds = (run.finished_at - run.started_at).total_seconds()
        self.stdout.write(f"run {run.pk} ({run.kind}): {run.get_status_display()} in {seconds:.2f} s")
        for check, count in run.checks.items():
            self.stdout.write(f"  {check:<40} {'ok' if count == 0 else f'{count} discrepancies'}")
        for problem in run.discrepancies[:20]:
            self.stdout.write(f"    {problem}")
        if run.error:
            self.stderr.write(run.error)
        if run.status != RunStatus.PASSED:
            sys.exit(1)
