"""What a clean reconciliation run proved, kept so that the next run checks what changed since (SPEC §15).

A checkpoint holds, for every account and asset, the sum of its legs up to a leg id (CheckpointSum), the
total of those sums per asset, and the last journal block verified. It is written in one transaction at
the end of a run that found nothing (`LedgerProof.checkpoint`), so a run that dies or fails leaves the
previous checkpoint as it was. One exception: a full run that found faults in the last checkpoint only
still writes the next one, summed again from the legs it has just verified; else a damaged checkpoint
would fail every run after it.

The incremental run (`LedgerProof(full=False)`) then checks:
- every balance row against its checkpoint sum plus its legs written since. Every row, not only those
  written since: a drifted row (an UPDATE behind the services' back) moves no leg and need not touch
  `updated_at`, so only comparing each row finds it; that costs the number of balance rows, not of legs.
  A row that disagrees is recomputed exactly from all its legs before anything is reported: a leg whose id
  was taken before the checkpoint but that committed after it (ids are not commit order) is missing from
  the checkpoint sum but not from the row, and causes a recompute, never a false alarm. Repairs between
  runs need nothing special: `recalculate_balance` sets a row to its legs, and `adjust_balance` posts legs.
- the entries with legs written since (each balances per asset), the checkpoint's own totals, the blocks
  sealed since, and the checks that are bounded by what is open today (holds, locked items, listings).
What it does not re-read is old legs: an old leg edited or deleted behind the services' back is for the
full run, which re-sums everything, verifies the last checkpoint against the journal and the whole seal.

The leg id a checkpoint goes up to stays JOURNAL_COMMIT_GRACE_SECONDS behind the newest leg, so that
in the normal course a late leg commits before a checkpoint passes it (the full run's check of the
checkpoint would otherwise find it missing and ask for a look).
"""

from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from core.reconciliation import discrepancy
from ledger.models import CheckpointKind, CheckpointSum, JournalCheckpoint, JournalLeg
from ledger.reconciliation import (
    BALANCES,
    LEDGER_CHECKS,
    LEGS,
    assets_sum_to_zero,
    holds_match_frozen,
    leg_sums,
    rows_against_legs,
    sql_rows,
    user_balances_not_negative,
)
from ledger.seal import journal_verify

SUMS = CheckpointSum._meta.db_table
RECOMPUTE_BATCH = 500
# A full run's checks of the last checkpoint: the checkpoint it writes rests on neither.
CHECKPOINT_CHECKS = frozenset({"checkpoint_matches_journal", "checkpoint_intact"})


def checkpoint_latest() -> JournalCheckpoint | None:
    return JournalCheckpoint.objects.order_by("-number").first()


def legs_since_checkpoint() -> int:
    """Legs the next incremental run has to read: those above the latest checkpoint (all, without one)."""
    latest = checkpoint_latest()
    return JournalLeg.objects.filter(pk__gt=latest.through_leg_id if latest else 0).count()


def _settled_leg_id(*, above: int) -> int:
    """The newest leg above `above` written more than the grace ago, read backwards from the newest leg."""
    settled = timezone.now() - timedelta(seconds=settings.JOURNAL_COMMIT_GRACE_SECONDS)
    newest = (
        JournalLeg.objects.filter(pk__gt=above, created_at__lte=settled)
        .order_by("-pk")
        .values_list("pk", flat=True)
        .first()
    )
    return newest or above


def _upsert(select_sql: str, *, add: bool) -> str:
    """INSERT INTO the checkpoint sums from `select_sql` (account_id, asset_code, available, frozen), adding
    to a row already there (`add`) or replacing it."""
    columns = f"INSERT INTO {SUMS} (account_id, asset_code, available, frozen) {select_sql}"
    if connection.vendor == "mysql":
        new = "VALUES(available)", "VALUES(frozen)"
        conflict = "ON DUPLICATE KEY UPDATE"
    else:
        new = "excluded.available", "excluded.frozen"
        conflict = "ON CONFLICT (account_id, asset_code) DO UPDATE SET"
    if add:
        return f"{columns} {conflict} available = available + {new[0]}, frozen = frozen + {new[1]}"
    return f"{columns} {conflict} available = {new[0]}, frozen = {new[1]}"


def _asset_totals() -> dict[str, int]:
    return {
        code: int(total)
        for code, total in sql_rows(f"SELECT asset_code, SUM(available + frozen) FROM {SUMS} GROUP BY asset_code")
    }


class LedgerProof:
    """One reconciliation run's ledger checks, full or incremental, and the checkpoint of what they proved.

    The checks are bound methods named as the full run's (their names key the run's counts).
    """

    def __init__(self, *, full: bool):
        self.base = checkpoint_latest()
        self.full = full or self.base is None
        self.kind = CheckpointKind.FULL if self.full else CheckpointKind.INCREMENTAL
        self.after_leg = 0 if self.full else self.base.through_leg_id
        self.through_leg_id = _settled_leg_id(above=self.base.through_leg_id if self.base else 0)
        self.verified_block = self.base.verified_block if self.base else 0
        self.recomputed: dict[tuple[int, str], tuple[int, int]] = {}  # rows found right: their sums to checkpoint

    def checks(self) -> tuple:
        if self.full:
            return (*LEDGER_CHECKS, self.checkpoint_matches_journal, self.journal_sealed)
        return (
            self.balances_match_journal,
            assets_sum_to_zero,
            holds_match_frozen,
            self.entries_balance,
            user_balances_not_negative,
            self.checkpoint_intact,
            self.journal_sealed,
        )

    def balances_match_journal(self) -> list[dict]:
        """Every balance row equals its checkpoint sum plus its legs since; rows that do not are recomputed."""
        new = leg_sums(f"id > {int(self.after_leg)}")
        join = "ON {t}.account_id = b.account_id AND {t}.asset_code = b.asset_code"
        suspects = sql_rows(
            f"""SELECT b.account_id, b.asset_code FROM {BALANCES} b
                LEFT JOIN {SUMS} c {join.format(t="c")}
                LEFT JOIN ({new}) n {join.format(t="n")}
                WHERE b.available_amount <> COALESCE(c.available, 0) + COALESCE(n.available, 0)
                   OR b.frozen_amount <> COALESCE(c.frozen, 0) + COALESCE(n.frozen, 0)
                UNION
                SELECT c.account_id, c.asset_code FROM {SUMS} c LEFT JOIN {BALANCES} b {join.format(t="c")}
                WHERE b.id IS NULL
                UNION
                SELECT DISTINCT l.account_id, l.asset_code FROM {LEGS} l LEFT JOIN {BALANCES} b {join.format(t="l")}
                WHERE l.id > %s AND b.id IS NULL""",
            [self.after_leg],
        )
        problems = []
        for start in range(0, len(suspects), RECOMPUTE_BATCH):
            problems += self._recompute(suspects[start : start + RECOMPUTE_BATCH])
        return problems

    def _recompute(self, keys: list[tuple[int, str]]) -> list[dict]:
        """Each key's balance row against all its legs, in one statement (one consistent view)."""
        wanted = " UNION ALL ".join(["SELECT %s AS account_id, %s AS asset_code"] * len(keys))
        settled = int(self.through_leg_id)
        rows = sql_rows(
            f"""SELECT k.account_id, k.asset_code, b.available_amount, b.frozen_amount,
                       COALESCE(SUM(l.delta_available), 0), COALESCE(SUM(l.delta_frozen), 0),
                       COALESCE(SUM(CASE WHEN l.id <= {settled} THEN l.delta_available ELSE 0 END), 0),
                       COALESCE(SUM(CASE WHEN l.id <= {settled} THEN l.delta_frozen ELSE 0 END), 0)
                FROM ({wanted}) k
                LEFT JOIN {BALANCES} b ON b.account_id = k.account_id AND b.asset_code = k.asset_code
                LEFT JOIN {LEGS} l ON l.account_id = k.account_id AND l.asset_code = k.asset_code
                GROUP BY k.account_id, k.asset_code, b.available_amount, b.frozen_amount""",
            [value for key in keys for value in key],
        )
        problems = []
        for account_id, code, available, frozen, journal_available, journal_frozen, upto_available, upto_frozen in rows:
            actual = (int(available or 0), int(frozen or 0))
            if actual == (int(journal_available), int(journal_frozen)):
                self.recomputed[(account_id, code)] = (int(upto_available), int(upto_frozen))
            else:
                problems.append(
                    discrepancy(
                        "balance_matches_journal",
                        account_id=account_id,
                        asset_code=code,
                        expected={"available": int(journal_available), "frozen": int(journal_frozen)},
                        actual={"available": actual[0], "frozen": actual[1]},
                    )
                )
        return problems

    def entries_balance(self) -> list[dict]:
        """Every entry with a leg written since the checkpoint sums to zero per asset (all its legs)."""
        rows = sql_rows(
            f"""SELECT entry_id, asset_code, SUM(delta_available + delta_frozen) FROM {LEGS}
                WHERE entry_id IN (SELECT entry_id FROM {LEGS} WHERE id > %s)
                GROUP BY entry_id, asset_code HAVING SUM(delta_available + delta_frozen) <> 0""",
            [self.after_leg],
        )
        return [discrepancy("entry_balances", entry_id=e, asset_code=c, expected=0, actual=int(n)) for e, c, n in rows]

    def checkpoint_intact(self) -> list[dict]:
        """The checkpoint's rows still add up to the totals it was written with."""
        totals = _asset_totals()
        return [
            discrepancy(
                "checkpoint_intact",
                asset_code=code,
                expected=self.base.asset_totals.get(code, 0),
                actual=totals.get(code, 0),
            )
            for code in sorted(totals.keys() | self.base.asset_totals.keys())
            if totals.get(code, 0) != self.base.asset_totals.get(code, 0)
        ]

    def checkpoint_matches_journal(self) -> list[dict]:
        """The full run's check of the last checkpoint: each row is its legs up to the checkpoint's leg id."""
        if self.base is None:
            return []
        upto = f"id <= {int(self.base.through_leg_id)}"
        return [
            *rows_against_legs(
                "checkpoint_matches_journal", table=SUMS, available="available", frozen="frozen", legs_where=upto
            ),
            *self.checkpoint_intact(),
        ]

    def journal_sealed(self) -> list[dict]:
        """The seal's blocks, all of them (full) or those sealed since the checkpoint (incremental)."""
        found = journal_verify(from_block=1 if self.full else self.verified_block + 1)
        if found.head is not None and not found.problems:
            self.verified_block = found.head.number
        return found.problems

    def proves(self, problems: list[dict]) -> bool:
        """Whether a run that found these problems may write the next checkpoint: none at all, or (a full run,
        which sums every leg again) none but the last checkpoint's own."""
        return all(self.full and problem["check"] in CHECKPOINT_CHECKS for problem in problems)

    def checkpoint(self) -> JournalCheckpoint | None:
        """Write what the run proved, once it found nothing; None if another run checkpointed meanwhile."""
        try:
            with transaction.atomic():
                return self._checkpoint_write()
        except IntegrityError:  # the next number is taken: that run's checkpoint stands
            return None

    def _checkpoint_write(self) -> JournalCheckpoint:
        checkpoint = JournalCheckpoint.objects.create(
            number=self.base.number + 1 if self.base else 1,
            kind=self.kind,
            through_leg_id=self.through_leg_id,
            verified_block=self.verified_block,
        )
        with connection.cursor() as cursor:
            if self.full:  # from the legs alone: no row of the last checkpoint is kept
                cursor.execute(f"DELETE FROM {SUMS}")
                cursor.execute(_upsert(leg_sums(f"id <= {int(self.through_leg_id)}"), add=False))
            else:
                since = f"id > {int(self.after_leg)} AND id <= {int(self.through_leg_id)}"
                cursor.execute(_upsert(leg_sums(since), add=True))
            recomputed = [(*key, *sums) for key, sums in self.recomputed.items()]
            for start in range(0, len(recomputed), RECOMPUTE_BATCH):
                batch = recomputed[start : start + RECOMPUTE_BATCH]
                values = ", ".join(["(%s, %s, %s, %s)"] * len(batch))
                cursor.execute(_upsert(f"VALUES {values}", add=False), [v for row in batch for v in row])
        checkpoint.asset_totals = _asset_totals()
        JournalCheckpoint.objects.filter(pk=checkpoint.pk).update(asset_totals=checkpoint.asset_totals)
        return checkpoint
