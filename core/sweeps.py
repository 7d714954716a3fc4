"""Periodic sweeps that never stop at one bad row (issue 20).

A sweep (expire listings, items, redemption orders) closes many rows, each in a short transaction of
its own or a batch in one. A row that cannot be closed (an old row that breaks a rule, a key taken
before keys had owners) is logged with its error, skipped, and the run goes on past it; at the end
of the run `sweep_failed` is sent once with every such row, and operations turns it into one alert.
Only a database that is away or busy (core.db.is_database_unavailable) stops the run: every other row would
fail the same way, and the next run takes them up.
"""

import logging
from collections.abc import Callable, Sequence

from django.db.models import QuerySet
from django.dispatch import Signal

from core.db import is_database_unavailable

logger = logging.getLogger("backpack.sweeps")

# Sent once at the end of a run in which some rows failed, with `sweep` (its name) and `failures`:
# [{"row": id, "error": "<exception class>: <text>"}, ...]. Operations turns it into an alert.
sweep_failed = Signal()


class Sweep:
    """One run of a sweep: `with Sweep("expire_listings") as run: run.one(row_id, close)`."""

    def __init__(self, name: str):
        self.name = name
        self.failures: list[dict] = []

    def __enter__(self) -> "Sweep":
        return self

    def __exit__(self, *exc_info) -> None:
        if self.failures:
            sweep_failed.send(sender=Sweep, sweep=self.name, failures=self.failures)

    def one(self, row_id, close: Callable[[], int]) -> int:
        """`close()` for one row: what it returns, or 0 with the row recorded as failed."""
        try:
            return close()
        except Exception as error:  # whatever one row does, the others still get their turn
            if is_database_unavailable(error):
                raise
            logger.exception("sweep %s: row %s failed, skipped", self.name, row_id)
            self.failures.append({"row": row_id, "error": f"{type(error).__name__}: {error}"[:300]})
            return 0

    def batch(self, row_ids: Sequence, close: Callable[[Sequence], int]) -> int:
        """`close(row_ids)` in one go; if it fails, each row alone, so that only the bad ones are left."""
        try:
            return close(row_ids)
        except Exception as error:
            if is_database_unavailable(error):
                raise
            return sum(self.one(row_id, lambda row_id=row_id: close([row_id])) for row_id in row_ids)


def after_each_batch(due: QuerySet, *, batch_size: int, handle: Callable[[list], int], fields=("pk",)) -> int:
    """Read the rows of `due` in primary-key order, a batch past the last one seen at a time (their `fields`:
    the key alone, or the key first), and hand each batch to `handle`, until a batch comes back short; return
    what `handle` counted. Rows left behind (failed, or changed meanwhile) are not read again in this run:
    the next run looks at them."""
    total, after = 0, None
    while True:
        page = due if after is None else due.filter(pk__gt=after)
        rows = list(page.order_by("pk").values_list(*fields, flat=len(fields) == 1)[:batch_size])
        if rows:
            total += handle(rows)
            after = rows[-1] if len(fields) == 1 else rows[-1][0]
        if len(rows) < batch_size:
            return total
