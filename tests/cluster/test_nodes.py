"""A Galera node's errors and states, for real: a certification conflict at COMMIT is run again; a node that
is not Synced, or lost the primary component, says so on /healthz, gets no traffic from the proxy, and
answers 503 (never 500); the nodes hold the same books and each one reconciles."""

import logging
import threading
import time

import MySQLdb
import pytest
from django.db import connection
from django.test import Client
from rest_framework.test import APIClient

from core.db import atomic_with_retry
from gifts.models import Gift
from items.models import ItemInstance
from ledger.checkpoints import LedgerProof
from ledger.models import Balance, Hold, IssuanceDay, JournalEntry, JournalLeg
from market.models import MarketListing, MarketTrade
from operations.reconciliation import LIVE_CHECKS
from redemption.models import RedemptionOrder
from tests.factories import UserFactory

pytestmark = pytest.mark.cluster
MONEY_TABLES = [
    model._meta.db_table
    for model in (
        Balance,
        JournalEntry,
        JournalLeg,
        Hold,
        IssuanceDay,
        MarketListing,
        MarketTrade,
        Gift,
        ItemInstance,
        RedemptionOrder,
    )
]


def node_sql(node, sql: str, params=()):
    """Run one statement on a node directly, outside Django; its rows. No default database: a node outside the
    primary component refuses a USE, but still takes SET GLOBAL."""
    raw = MySQLdb.connect(host="127.0.0.1", port=node.port, user="root", autocommit=True)
    try:
        cursor = raw.cursor()
        cursor.execute(sql, params)
        return cursor.fetchall()
    finally:
        raw.close()


def wait_until(condition, timeout=15.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_losing_certification_at_commit_to_another_nodes_write_runs_the_transaction_again(cluster, caplog):
    user = UserFactory(password=None, last_name="")
    other_committed = threading.Event()
    attempts = []

    def other_node_writes():
        node_sql(
            cluster.nodes[1],
            "UPDATE backpack_cluster.auth_user SET last_name = CONCAT(last_name, 'b') WHERE id = %s",
            [user.pk],
        )
        other_committed.set()

    @atomic_with_retry
    def write_on_node1():
        attempts.append(1)
        with connection.cursor() as cursor:
            cursor.execute("UPDATE auth_user SET last_name = CONCAT(last_name, 'a') WHERE id = %s", [user.pk])
        if len(attempts) == 1:  # node2 commits the same row meanwhile: its write set is certified first
            threading.Thread(target=other_node_writes).start()
            assert other_committed.wait(10)

    with caplog.at_level(logging.INFO, logger="core.db"):
        write_on_node1()

    assert len(attempts) == 2
    assert "certification conflict at COMMIT" in caplog.text
    # With the causal wait: node3 applies node1's retried commit a moment after it is acknowledged.
    assert node_sql(
        cluster.nodes[2],
        "SET STATEMENT wsrep_sync_wait = 1 FOR SELECT last_name FROM backpack_cluster.auth_user WHERE id = %s",
        [user.pk],
    ) == (("ba",),)


def test_healthz_is_503_on_a_node_that_is_not_synced_and_the_proxy_sends_it_nothing(cluster, on_node):
    desynced = cluster.nodes[1]
    node_sql(desynced, "SET GLOBAL wsrep_desync = ON")
    try:
        with on_node(cluster, 1):
            response = Client().get("/healthz")
        with on_node(cluster, 0):
            healthy = Client().get("/healthz")
        # haproxy's checks (every 0.5 s, 2 to fall) take the node out; then no new connection reaches it.
        wait_until(lambda: proxied_nodes(cluster, 6) == {"node1", "node3"})
    finally:
        node_sql(desynced, "SET GLOBAL wsrep_desync = OFF")

    assert (response.status_code, response.json()) == (503, {"status": "unavailable"})
    assert (healthy.status_code, healthy.json()) == (200, {"status": "ok"})
    wait_until(desynced.synced)
    with on_node(cluster, 1):
        assert Client().get("/healthz").status_code == 200
    wait_until(lambda: proxied_nodes(cluster, 6) == {"node1", "node2", "node3"})


def proxied_nodes(cluster, connections: int) -> set[str]:
    """The nodes that `connections` new connections through haproxy reach (round-robin over the healthy ones)."""
    reached = set()
    for _ in range(connections):
        raw = MySQLdb.connect(host="127.0.0.1", port=cluster.proxy_port, user="root")
        cursor = raw.cursor()
        cursor.execute("SELECT @@wsrep_node_name")
        reached.add(cursor.fetchone()[0])
        raw.close()
    return reached


def test_a_node_cut_off_from_the_cluster_answers_503_never_500(cluster, on_node):
    user = UserFactory(password=None)
    isolated = cluster.nodes[2]
    node_sql(isolated, "SET GLOBAL wsrep_provider_options = 'gmcast.isolate = 1'")
    try:
        wait_until(lambda: isolated.wsrep_status().get("ready") == "OFF")
        with on_node(cluster, 2):
            api = APIClient(raise_request_exception=False)
            api.force_authenticate(user)
            read = api.get("/api/v4/assets")
            write = api.post(
                "/api/v4/market/listings",
                {"asset_code": "red_shard", "quantity": 1, "unit_price": 1},
                format="json",
                headers={"Idempotency-Key": "cut-off"},
            )
            health = Client().get("/healthz")
    finally:
        node_sql(isolated, "SET GLOBAL wsrep_provider_options = 'gmcast.isolate = 0'")

    for response in (read, write):
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "service_unavailable"
    assert health.status_code == 503
    wait_until(isolated.synced, timeout=60)


def test_every_node_holds_the_same_books_and_reconciles(cluster, on_node, grant):
    def checksums(node):
        return node_sql(node, "CHECKSUM TABLE " + ", ".join(f"backpack_cluster.{table}" for table in MONEY_TABLES))

    for index in range(3):  # books written through every node, whichever tests ran before
        with on_node(cluster, index):
            grant(UserFactory(password=None), "DIAMOND", 10)
    # What every node wrote has been applied everywhere once the nodes agree.
    wait_until(lambda: checksums(cluster.nodes[0]) == checksums(cluster.nodes[1]) == checksums(cluster.nodes[2]))
    for index in range(3):
        with on_node(cluster, index, causal=True):
            checks = (*LedgerProof(full=True).checks(), *LIVE_CHECKS)
            assert {check.__name__: check() for check in checks} == {check.__name__: [] for check in checks}
