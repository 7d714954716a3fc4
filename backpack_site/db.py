"""Transaction helpers shared by the services of every app."""

import functools
import random
import time

from django.db import OperationalError, connection, transaction

MYSQL_DEADLOCK = 1213
DEADLOCK_ATTEMPTS = 5


def is_deadlock(exc: OperationalError) -> bool:
    return bool(exc.args) and exc.args[0] == MYSQL_DEADLOCK


def atomic_with_retry(func):
    """Run `func` in a transaction, retrying it if the database picks it as a deadlock victim.

    Locks are taken in one global order, so deadlocks are rare, but InnoDB can still pick
    a victim (for example when several transactions wait on the same new unique key).
    The whole transaction is rolled back then, so running it again is safe. Inside an
    outer transaction there is nothing to retry from: the outermost caller owns the retry.
    """

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        if connection.in_atomic_block:
            with transaction.atomic():
                return func(*args, **kwargs)
        for attempt in range(1, DEADLOCK_ATTEMPTS + 1):
            try:
                with transaction.atomic():
                    return func(*args, **kwargs)
            except OperationalError as exc:
                if not is_deadlock(exc) or attempt == DEADLOCK_ATTEMPTS:
                    raise
                time.sleep(random.uniform(0, 0.01 * attempt))

    return wrapper
