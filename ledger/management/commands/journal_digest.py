import sys

from django.core.management.base import BaseCommand

from ledger.seal import block_latest


class Command(BaseCommand):
    help = "Print the journal's head: the newest block's number and hash, to keep outside the database."

    def handle(self, *args, **options):
        head = block_latest()
        if head is None:
            self.stderr.write("no block sealed yet")
            sys.exit(1)
        self.stdout.write(f"block {head.number} {head.hash} sealed {head.sealed_at.isoformat()}")
