from django.core.management.base import BaseCommand

from ledger.seal import BLOCK_MAX_ENTRIES, journal_seal


class Command(BaseCommand):
    help = "Seal the committed journal entries not sealed yet into hash-chained blocks (also a minutely task)."

    def add_arguments(self, parser):
        parser.add_argument("--block-size", type=int, default=BLOCK_MAX_ENTRIES)

    def handle(self, *args, block_size, **options):
        blocks = journal_seal(block_size=block_size)
        for block in blocks:
            self.stdout.write(f"block {block.number} {block.hash}: {block.entry_count} entries")
        if not blocks:
            self.stdout.write("nothing to seal")
