"""The one lock order of the whole project.

Every transaction that takes row locks takes them in this order, and within a class by
primary key (balance rows by account id, then asset code), so two transactions never wait
on each other in a circle:

0. **idempotency claim**: the caller's Idempotency-Key claim (core/idempotency.py), a unique insert,
   so a concurrent request with the same key waits here, before it takes anything else;
1. **acting user**: the acting user's row (`user_lock`): the seller's (listing creation: it guards
   the open-listing cap), the buyer's (placing a buy order: the open-order cap and its key), the
   sender's (a gift: it guards the daily gift limits and the replay of an idempotency key);
2. **domain rows**: the market book of (asset, price asset), written before anything of that book
   (placing a buy order or an asset listing: market.locks.book_lock), then the resting listings or
   buy orders it crosses, in priority order (only the book's holder locks more than one of them); a
   market listing, a buy order or a redemption order, then the item instance; an issuer's issuance
   counter of the day;
3. **holds**: ledger holds;
4. **backpack versions**: the versions of the users whose balances or items the transaction changes
   (`backpack_versions_bump`): one statement, every such user at once, in user-id order; a service
   nested in another bumps rows its caller already holds, which waits on nothing;
5. **balances**: balance rows, users' and system accounts' alike, in one statement, by account id
   then asset code. No system row is shared by everybody: the accounts that most postings touch
   (platform fee, issuance, burn) are spread over slot accounts (ledger/models.py), so a purchase's
   fee row is shared only with purchases of buyers in the same slot.

Other modules name a class ("the backpack-versions class of core/locks.py"), never its number.

Each app's `locks.py` holds its `select_for_update` helpers and is the only place that
takes row locks; a lock is taken before reading what a write depends on. One statement
locks one class of rows: a join would let the optimizer choose the order.

The event outbox and the webhook deliveries take no row locks: an event is one INSERT in the
business transaction, and a delivery is claimed by a conditional UPDATE (operations/webhooks.py).
"""

from collections.abc import Collection, Iterable

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Model, QuerySet

from core.db import rows_fetch
from core.models import BackpackVersion, IssuerKey


def rows_lock(model: type[Model], pks: Collection) -> list[Model]:
    """The rows of `model` with these primary keys, locked in primary-key order (inside the caller's
    transaction). Written as SQL for the hot paths (a listing, a hold): no query to compile."""
    if not pks:
        return []
    opts = model._meta
    columns = ", ".join(connection.ops.quote_name(field.column) for field in opts.concrete_fields)
    lock = " " + connection.ops.for_update_sql() if connection.features.has_select_for_update else ""
    sql = (
        f"SELECT {columns} FROM {connection.ops.quote_name(opts.db_table)} "
        f"WHERE {connection.ops.quote_name(opts.pk.column)} IN ({', '.join(['%s'] * len(pks))}) "
        f"ORDER BY {connection.ops.quote_name(opts.pk.column)}{lock}"
    )
    return rows_fetch(model, sql, sorted(pks))


def in_lock_order(rows: QuerySet) -> QuerySet:
    """`rows`, to be locked in primary-key order when evaluated (inside the caller's transaction)."""
    return rows.select_for_update().order_by("pk")


def issuer_key_lock(*, key_id: str) -> IssuerKey:
    return IssuerKey.objects.select_for_update().get(pk=key_id)


def user_lock(*, user_id: int) -> None:
    """Lock the acting user's row (the acting-user class): one user's listing creations or gifts queue on it."""
    get_user_model().objects.select_for_update().filter(pk=user_id).values_list("pk").first()


def backpack_versions_bump(*, user_ids: Iterable[int | None]) -> None:
    """Count one more change of these users' backpacks, in the transaction of the change (one statement).

    The rows are the backpack-versions class of the lock order (this module's docstring): taken after the
    holds, before the balances, all users of a transaction at once in user-id order. Bumping again rows a
    transaction holds waits on nothing.
    """
    ids = sorted({user_id for user_id in user_ids if user_id is not None})
    if not ids:
        return
    if not connection.in_atomic_block:
        raise RuntimeError("Bump backpack versions inside the transaction of the change.")
    table = connection.ops.quote_name(BackpackVersion._meta.db_table)
    on_conflict = (
        "ON DUPLICATE KEY UPDATE version = version + 1"
        if connection.vendor == "mysql"
        else "ON CONFLICT (user_id) DO UPDATE SET version = version + 1"
    )
    values = ", ".join(["(%s, 1)"] * len(ids))
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {table} (user_id, version) VALUES {values} {on_conflict}", ids)
