"""Read-your-writes on a Galera cluster (SPEC §9): a request sees everything committed before it began,
whichever node it reaches.

Galera acknowledges a COMMIT once every node has its write set, but each node applies it a moment later:
a request on node B just after a purchase through node A could miss the purchase in the backpack, and
answer 304 to the ETag from before it, so that the stale body looks current. `wsrep_sync_wait` makes a
statement first wait until its node has applied everything the cluster committed before the statement
began. Once per request is enough: a node only moves forward, so every later statement of the request
sees at least what the client had been told when it sent the request. Writes need it as much as reads
(listing an item that was granted through another node a moment ago), so every request waits, once, at
its first query on each connection it uses (a connection lost and opened again may land on another
node). A request that queries nothing waits for nothing.

Tasks and commands do not wait: they select what to do by state and run again (the outbox, the sweeps).
On a MariaDB that is not a Galera node, on MySQL and on SQLite there is nothing to wait for: no statement.
"""

from django.db import connection

# One round trip through the cluster's total order, then the wait for this node's appliers; the session
# keeps wsrep_sync_wait = 0 for every other statement.
SYNC_WAIT = "SET STATEMENT wsrep_sync_wait = 1 FOR SELECT 1"


def is_galera_node(db) -> bool:
    """Whether the server of `db`'s open connection is a Galera node; asked once per connection."""
    known = getattr(db, "galera_node", None)
    if known is None or known[0] is not db.connection:
        with db.wrap_database_errors, db.connection.cursor() as cursor:
            cursor.execute("SHOW VARIABLES LIKE 'wsrep\\_on'")
            row = cursor.fetchone()
        known = db.galera_node = (db.connection, row is not None and row[1] == "ON")
    return known[1]


class WaitForNode:
    """An execute wrapper for one request: before its first query on a connection, wait for the node.
    The statements it sends go to the driver's own cursor, so they are neither logged nor counted."""

    def __init__(self):
        self.waited_on = None

    def __call__(self, execute, sql, params, many, context):
        db = context["connection"]
        if db.connection is not self.waited_on:
            if is_galera_node(db):
                with db.wrap_database_errors, db.connection.cursor() as cursor:
                    cursor.execute(SYNC_WAIT)
            self.waited_on = db.connection
        return execute(sql, params, many, context)


class CausalReadsMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if connection.vendor != "mysql":
            return self.get_response(request)
        with connection.execute_wrapper(WaitForNode()):
            return self.get_response(request)
