"""Transaction helpers shared by the services of every app."""

import contextlib
import functools
import json
import logging
import random
import time
from collections.abc import Callable

from django.db import DatabaseError, InterfaceError, OperationalError, connection, migrations, models, transaction
from django.utils import timezone

from core.causal_reads import is_galera_node

MYSQL_DEADLOCK = 1213
MYSQL_LOCK_WAIT_TIMEOUT = 1205
# Galera: "WSREP has not yet prepared node for application use", from a node outside the primary component
# (it lost quorum) or not yet synced. The node runs, but nothing can be read or written through it.
WSREP_NOT_READY = 1047
# How often a transaction runs when it keeps losing to others: on a Galera cluster two nodes writing one
# hot row conflict at COMMIT, and the loser must run again (tests/cluster/test_races.py measures how many
# attempts a hot row needs). Between attempts, exponential backoff with full jitter: a random pause up to
# 5, 10, 20 … 200 ms, so that the losers do not collide again in step.
DEADLOCK_ATTEMPTS = 10
BACKOFF_FIRST_SECONDS = 0.005
BACKOFF_MAX_SECONDS = 0.2
# The server cannot be reached or dropped the connection: 2002/2003 cannot connect, 2006 gone away,
# 2013/2055 lost during a query, 1053 shutting down, 1927 connection killed, 4031 disconnected as idle.
CONNECTION_LOST_CODES = frozenset({2002, 2003, 2006, 2013, 2055, 1053, 1927, 4031})
# The connection's node cannot serve: a new connection (through the proxy, to another node) may.
NODE_UNUSABLE_CODES = CONNECTION_LOST_CODES | {WSREP_NOT_READY}
# What a client may simply try again: the server is away or busy, or rolled the work back (1040 too
# many connections, deadlock victim or certification conflict, lock wait timeout).
TRY_AGAIN_CODES = NODE_UNUSABLE_CODES | {1040, MYSQL_DEADLOCK, MYSQL_LOCK_WAIT_TIMEOUT}

logger = logging.getLogger(__name__)


def error_code(exc: Exception) -> int | None:
    code = exc.args[0] if exc.args else None
    return code if isinstance(code, int) else None


def is_deadlock(exc: OperationalError) -> bool:
    return error_code(exc) == MYSQL_DEADLOCK


def is_connection_lost(exc: Exception) -> bool:
    """The database connection is gone (or never came): nothing more can run on it."""
    return isinstance(exc, InterfaceError) or (
        isinstance(exc, OperationalError) and error_code(exc) in CONNECTION_LOST_CODES
    )


def is_node_unusable(exc: Exception) -> bool:
    """The connection is lost, or its node is not ready: only a new connection can help."""
    return is_connection_lost(exc) or (isinstance(exc, OperationalError) and error_code(exc) == WSREP_NOT_READY)


def is_database_unavailable(exc: Exception) -> bool:
    """The database failed in a way that says "try again", not "this request is wrong"."""
    return is_connection_lost(exc) or (isinstance(exc, OperationalError) and error_code(exc) in TRY_AGAIN_CODES)


def database_ready() -> bool:
    """The database answers, and on a Galera cluster this connection's node can serve: it is Synced (not
    joining, donating or desynced) and ready (in the primary component). `SELECT 1` alone is answered by a
    node that lost quorum, where every real query fails with 1047. On a plain server answering is enough."""
    with connection.cursor() as cursor:
        if connection.vendor != "mysql" or not is_galera_node(connection):
            cursor.execute("SELECT 1")
            return True
        cursor.execute("SHOW GLOBAL STATUS WHERE Variable_name IN ('wsrep_local_state_comment', 'wsrep_ready')")
        status = dict(cursor.fetchall())
    return status.get("wsrep_local_state_comment") == "Synced" and status.get("wsrep_ready") == "ON"


def backoff_seconds(attempt: int) -> float:
    """The pause after failed attempt `attempt` (1, 2, …): full jitter below an exponential ceiling."""
    return random.uniform(0, min(BACKOFF_MAX_SECONDS, BACKOFF_FIRST_SECONDS * 2 ** (attempt - 1)))


def atomic_with_retry(func=None, *, savepoint: bool = True):
    """Run `func` in a transaction, and run it again when the database rolled it back for a reason that
    says nothing about the work: a deadlock, or a node that could not serve it before COMMIT.

    - 1213, before or at COMMIT, is retried (up to DEADLOCK_ATTEMPTS, with backoff): the whole
      transaction was rolled back, so running it again is safe. On one MariaDB it is InnoDB's deadlock
      victim (locks are taken in one global order, so it is rare: several transactions waiting on the
      same new unique key). On a Galera cluster it is mostly a certification conflict: row locks are
      local to a node, so two nodes' transactions on the same row both run, and the one that commits
      second is rolled back at COMMIT (or aborted mid-way by the winner's write set).
    - A lost connection, or a node that is not ready (1047), before COMMIT: the transaction never
      reached the cluster. Retried once, on a new connection.
    - The same during COMMIT is never retried here, since the commit may have happened (its write set
      may have been certified just before the node left); nor is a lock wait timeout, which already
      held the worker for the whole timeout: both reach the client as 503 (core/unavailable.py), as
      does a conflict still losing after the last attempt. The client's retry with the same
      Idempotency-Key then finds the original write, or does it once.

    Inside an outer transaction there is nothing to retry from: the outermost caller owns the retry
    (the Idempotency-Key layer, core/idempotency.py, wraps the key's claim and the view's service in
    one). There, `func` runs in a savepoint, so that a caller may handle its failure and go on.
    `@atomic_with_retry(savepoint=False)` spares the savepoint's two statements for a building
    block that is called on every hot path and whose failure always fails its caller (the
    ledger's posting): its failure then marks the caller's whole transaction for rollback.
    """
    if func is None:
        return functools.partial(atomic_with_retry, savepoint=savepoint)

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        if connection.in_atomic_block:
            with transaction.atomic(savepoint=savepoint):
                return func(*args, **kwargs)
        reconnected = False
        attempt = 1
        while True:
            committing = False
            try:
                with transaction.atomic():
                    result = func(*args, **kwargs)
                    committing = True
                return result
            except (OperationalError, InterfaceError) as exc:
                if is_node_unusable(exc):
                    drop_connection()
                    if committing or reconnected:
                        raise
                    reconnected = True
                elif is_deadlock(exc) and attempt < DEADLOCK_ATTEMPTS:
                    logger.info(
                        "%s.%s: deadlock or certification conflict%s, attempt %d of %d",
                        func.__module__,
                        func.__name__,
                        " at COMMIT" if committing else "",
                        attempt,
                        DEADLOCK_ATTEMPTS,
                    )
                    time.sleep(backoff_seconds(attempt))
                    attempt += 1
                else:
                    raise

    return wrapper


def drop_connection() -> None:
    """Forget a dead connection, or one to a node that is not ready, so that the next query opens a new one
    (through the proxy, to a node that can serve; closing it may fail: it may be dead). Not inside a
    transaction, whose owner must see it fail: a test's, for one."""
    if connection.in_atomic_block:
        return
    with contextlib.suppress(DatabaseError):
        connection.close()


def insert_one(obj) -> None:
    """INSERT one unsaved instance and set its primary key: `save()` for a hot path, converting each
    column by a plain function (see `bulk_insert`). An IntegrityError reaches the caller as from a raw
    cursor: the transaction is not marked for rollback, and MariaDB and SQLite undo only that statement.
    Callers that go on after such a failure without a savepoint rely on that (PostgreSQL would abort the
    whole transaction): core/checks.py refuses any other database at start-up.
    """
    sql, (row,) = _insert_rows(type(obj), [obj])
    with connection.cursor() as cursor:
        cursor.execute(sql, row)
        if isinstance(type(obj)._meta.pk, models.AutoField):  # else the key was in the row itself
            obj.pk = cursor.lastrowid
    obj._state.adding = False


def bulk_insert(model, objects, *, batch_size: int = 2000) -> None:
    """Insert unsaved instances with multi-row INSERTs: what bulk_create does, for bulk work only.

    bulk_create prepares and compiles every value through the field API, which was most of
    the legacy migration's time. Here each column is converted once per value by a plain
    function (JSON encoded, datetimes adapted, auto timestamps set). Primary keys are not
    returned: look rows up by their natural keys afterwards.
    """
    sql, rows = _insert_rows(model, list(objects))
    with connection.cursor() as cursor:
        for start in range(0, len(rows), batch_size):
            cursor.executemany(sql, rows[start : start + batch_size])


def _insert_rows(model, objects: list) -> tuple[str, list[list]]:
    """The INSERT of `model` and each instance's row, after setting the auto timestamps (auto_now,
    auto_now_add) on the instances as save() would."""
    sql, columns, stamped = _insert_plan(model, connection.vendor)
    if stamped:
        now = timezone.now()
        for obj in objects:
            for attname in stamped:
                setattr(obj, attname, now)
    return sql, [[convert(getattr(obj, attname)) for attname, convert in columns] for obj in objects]


def update_one(model, pk, **values) -> int:
    """UPDATE one row's columns by primary key, for a hot path: `filter(pk=…).update(…)` without a query to
    compile. Returns how many rows matched (0 or 1)."""
    fields = [model._meta.get_field(name) for name in values]
    assignments = ", ".join(f"{connection.ops.quote_name(field.column)} = %s" for field in fields)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {connection.ops.quote_name(model._meta.db_table)} SET {assignments} "
            f"WHERE {connection.ops.quote_name(model._meta.pk.column)} = %s",
            [_to_db(field)(value) for field, value in zip(fields, values.values(), strict=True)] + [pk],
        )
        return cursor.rowcount


def rows_fetch(model, sql: str, params) -> list:
    """Instances of `model` from a SELECT of all its concrete columns in field order, converted as the ORM
    converts them (datetimes made aware, booleans, JSON): a raw query for a hot path, without RawQuerySet."""
    names, converters = _from_db_plan(model, connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    instances = []
    for row in rows:
        values = list(row)
        for index, expression, convert in converters:
            values[index] = convert(values[index], expression, connection)
        instances.append(model.from_db(connection.alias, names, values))
    return instances


@functools.cache
def _insert_plan(model, vendor: str) -> tuple[str, list[tuple[str, Callable]], list[str]]:
    """The INSERT of a row of `model` (every column but the auto primary key), each column's attribute and
    converter, and the attributes of its auto timestamps, per database vendor."""
    fields = [f for f in model._meta.concrete_fields if not isinstance(f, models.AutoField)]
    for field in fields:
        if _has_own_pre_save(field):
            raise TypeError(
                f"{model.__name__}.{field.name} computes its value in pre_save(), which the plain INSERT of "
                "core.db does not run: save the instance through the ORM instead"
            )
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    sql = (
        f"INSERT INTO {connection.ops.quote_name(model._meta.db_table)} ({columns}) "
        f"VALUES ({', '.join(['%s'] * len(fields))})"
    )
    stamped = [f.attname for f in fields if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)]
    return sql, [(field.attname, _to_db(field)) for field in fields], stamped


def _has_own_pre_save(field) -> bool:
    """Whether the field computes its value when saved, beyond the auto timestamps `_insert_rows` sets itself."""
    own = type(field).pre_save
    if isinstance(field, models.DateField):  # DateField and DateTimeField: auto_now(_add), handled above
        return own not in (models.DateField.pre_save, models.DateTimeField.pre_save)
    return own is not models.Field.pre_save


@functools.cache
def _from_db_plan(model, vendor: str) -> tuple[list[str], list[tuple[int, object, Callable]]]:
    fields = model._meta.concrete_fields
    converters = []
    for index, field in enumerate(fields):
        column = field.get_col(model._meta.db_table)
        for convert in connection.ops.get_db_converters(column) + field.get_db_converters(connection):
            converters.append((index, column, convert))
    return [field.attname for field in fields], converters


@functools.cache
def _to_db(field) -> Callable[[object], object]:
    """A plain function from a value of `field` to what the database driver is sent."""
    if isinstance(field, models.DateTimeField):
        return lambda value: connection.ops.adapt_datetimefield_value(value)
    if isinstance(field, models.JSONField):
        return lambda value: json.dumps(value, cls=field.encoder)
    if isinstance(field, (models.CharField, models.TextField)):  # choices are str enums: send the plain str
        return lambda value: None if value is None else str(value)
    if isinstance(field, (models.IntegerField, models.ForeignKey)):
        return lambda value: value
    return lambda value: field.get_db_prep_save(value, connection)


def in_batches(batch: Callable[[int], int], *, batch_size: int) -> int:
    """Call `batch(batch_size)` (one short transaction over at most that many rows, returning how
    many it took) until a batch comes back short; return the total. For periodic sweeps."""
    total = 0
    while True:
        taken = batch(batch_size)
        total += taken
        if taken < batch_size:
            return total


def exact_comparison(table: str, column: str, column_type: str) -> migrations.RunPython:
    """A migration operation: compare a NOT NULL text column byte for byte (SPEC §8: `diamond` is not `DIAMOND`).

    For keys and identifiers that clients choose. The database's collation (utf8mb4_unicode_ci) ignores case,
    and MariaDB's PAD SPACE collations trailing spaces, so a unique key on such a column took "Order-1" for
    "order-1" and replayed the wrong write. MariaDB gets utf8mb4_nopad_bin, MySQL utf8mb4_bin; SQLite
    compares exactly already. A later AlterField of the column would drop the collation:
    tests/test_exact_identifiers.py pins it.
    """

    def forward(apps, schema_editor):
        editor = schema_editor.connection
        if editor.vendor != "mysql":
            return
        collation = "utf8mb4_nopad_bin" if editor.mysql_is_mariadb else "utf8mb4_bin"
        quote = editor.ops.quote_name
        schema_editor.execute(
            f"ALTER TABLE {quote(table)} MODIFY {quote(column)} {column_type} "
            f"CHARACTER SET utf8mb4 COLLATE {collation} NOT NULL"
        )

    def backward(apps, schema_editor):
        editor = schema_editor.connection
        if editor.vendor == "mysql":
            quote = editor.ops.quote_name
            schema_editor.execute(f"ALTER TABLE {quote(table)} MODIFY {quote(column)} {column_type} NOT NULL")

    return migrations.RunPython(forward, backward, atomic=False)  # DDL: MariaDB cannot roll it back anyway


def comparison_key(*, model: type[models.Model], field: str, value: str) -> str:
    """A key that two values share exactly when the database finds them equal in `model.field`'s column.

    Python cannot say what a collation finds equal: utf8mb4_general_ci ignores case and accents
    (`víctim` = `victim`), utf8mb4_unicode_ci widths too (fullwidth `victim` = `victim`), and a PAD SPACE
    collation trailing spaces and whatever weighs like one (a no-break space in unicode_ci). So on
    MariaDB/MySQL the key is the column's own collation weights of the value, without the weights a PAD
    SPACE comparison pads with; one query, which reads no table. SQLite compares text byte for byte
    (BINARY): the key is the value.
    """
    if connection.vendor != "mysql":
        return value
    column = model._meta.get_field(field).column
    charset, collation = _column_collation(connection.settings_dict["NAME"], model._meta.db_table, column)
    text = f"CONVERT(%s USING {charset}) COLLATE {collation}"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT WEIGHT_STRING({text}), WEIGHT_STRING({text}), {text} = {text}", [value, " ", "a", "a "])
        weight, space, pads = cursor.fetchone()
    if pads:
        while weight.endswith(space):
            weight = weight[: -len(space)]
    return weight.hex()


@functools.cache
def _column_collation(database: str, table: str, column: str) -> tuple[str, str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT CHARACTER_SET_NAME, COLLATION_NAME FROM information_schema.COLUMNS"
            " WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s AND COLUMN_NAME = %s",
            [database, table, column],
        )
        charset, collation = cursor.fetchone()
    if not (charset.isidentifier() and collation.isidentifier()):  # they go into SQL text as names
        raise ValueError(f"unexpected collation {charset} {collation} of {table}.{column}")
    return charset, collation
