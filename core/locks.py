"""The one lock order of the whole project.

Every transaction that takes row locks takes them in this order, and within a class by
primary key (balance rows by account id, then asset code), so two transactions never wait
on each other in a circle:

0. the caller's Idempotency-Key claim (core/idempotency.py): a unique insert, so a concurrent
   request with the same key waits here, before it takes anything else;
1. the acting user's row: the seller's (listing creation: it guards the open-listing cap), the buyer's
   (placing a buy order: the open-order cap and its key), the sender's (a gift: it guards the daily
   gift limits and the replay of an idempotency key);
2. domain rows: the market book of (asset, price asset), written before anything of that book (placing a
   buy order or an asset listing: market.locks.book_lock), then the resting listings or buy orders it
   crosses, in priority order (only the book's holder locks more than one of them); a market listing, a buy
   order or a redemption order, then the item instance; an issuer's issuance counter of the day;
3. ledger holds;
4. the backpack versions of the users whose balances or items the transaction changes
   (core.services.backpack_versions_bump): one statement, every such user at once, in user-id
   order; a service nested in another bumps rows its caller already holds, which waits on nothing;
5. balance rows, users' and system accounts' alike, in one statement, by account id then asset
   code. No system row is shared by everybody: the accounts that most postings touch (platform
   fee, issuance, burn) are spread over slot accounts (ledger/models.py), so a purchase's fee row
   is shared only with purchases of buyers in the same slot.

Each app's `locks.py` holds its `select_for_update` helpers and is the only place that
takes row locks; a lock is taken before reading what a write depends on. One statement
locks one class of rows: a join would let the optimizer choose the order.

The event outbox and the webhook deliveries take no row locks: an event is one INSERT in the
business transaction, and a delivery is claimed by a conditional UPDATE (operations/webhooks.py).
"""

from collections.abc import Collection

from django.db import connection
from django.db.models import Model, QuerySet

from core.db import rows_fetch
from core.models import IssuerKey


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
