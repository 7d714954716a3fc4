import sys

from django.core.management.base import BaseCommand

from ledger.seal import journal_verify

SHOWN = 20


class Command(BaseCommand):
    help = (
        "Recompute the journal's blocks from the entries and legs as they are; name the first block and entry"
        " that no longer match. Exit status 1 on any problem; entries not sealed yet are pending, not problems."
    )

    def add_arguments(self, parser):
        parser.add_argument("--from-block", type=int, default=1, help="Trust the blocks before this one.")
        parser.add_argument("--digest", help="A block hash held outside the database: it must be in the chain.")

    def handle(self, *args, from_block, digest, **options):
        found = journal_verify(from_block=from_block, digest=digest)
        head = f"block {found.head.number} {found.head.hash}" if found.head else "no block"
        self.stdout.write(f"verified {found.blocks} blocks, {found.entries} entries; head: {head}")
        if found.pending:
            self.stdout.write(
                f"pending (committed, not sealed yet): {len(found.pending)} entries,"
                f" first {', '.join(map(str, found.pending[:SHOWN]))}"
            )
        if digest is not None and found.digest_found:
            self.stdout.write(f"digest {digest} is in the verified chain")
        for problem in found.problems[:SHOWN]:
            self.stdout.write(f"  {problem}")
        if found.problems:
            first = found.problems[0]
            where = ", ".join(f"{k} {first[k]}" for k in ("block", "entry_id", "position", "digest") if k in first)
            self.stderr.write(f"TAMPERED: {len(found.problems)} problems; first: {first['check']} at {where}")
            sys.exit(1)
        self.stdout.write("ok")
