"""Throughput and read latency on a Galera cluster (SPEC §9): what spreading writes over the nodes costs.

Against the nodes of a running cluster (`scripts/cluster.py start` prints them), each worker's connection
pinned to one node, straight and not through the proxy, so that "one node" and "three nodes" mean what
they say:

- purchases/s and transfers/s with every worker writing through node1, then with worker i writing
  through node i mod 3 (same run, same data shape). Each worker has its own buyer and listing (its own
  pair of users for transfers); what they share is what production shares: the platform's fee slots.
  With the writes spread, those rows are written on several nodes at once, and the loser of each
  conflict is rolled back at COMMIT and retried (core.db.atomic_with_retry);
- certification conflicts per 1,000 writes (the nodes' wsrep_local_cert_failures and
  wsrep_local_bf_aborts) and the retries they caused (core.db's log lines);
- p50/p95 of GET backpack through node2 while a writer changes that backpack through node1, with the
  causal wait (core/causal_reads.py) and without it, alternating, and how many reads without it missed
  a write acknowledged before they began.

The data is created through the services in the configured database (users named bench-<tag>-…) and
left there. The numbers are the machine's: run it where nothing else runs.
"""

import json
import logging
import multiprocessing
import statistics
import threading
import time
import uuid
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, connection
from django.test import override_settings
from rest_framework.test import APIClient

from bench.harness import measure
from core.causal_reads import SYNC_WAIT
from ledger.services import balance_change, transfer
from market.services import listing_create, listing_purchase

LISTED_ASSET = "red_shard"
UNIT_PRICE = 100
CAUSAL_MIDDLEWARE = "core.causal_reads.CausalReadsMiddleware"
BACKPACK = "/api/v4/backpack"
WSREP_COUNTERS = ("wsrep_local_cert_failures", "wsrep_local_bf_aborts")

# Shared with forked workers: retries logged by core.db, and writes that failed for good.
RETRIES = multiprocessing.Value("i", 0)
FAILED = multiprocessing.Value("i", 0)


class RetryCounter(logging.Handler):
    def emit(self, record):
        if "certification conflict" in record.getMessage():
            with RETRIES.get_lock():
                RETRIES.value += 1


def use_node(node: tuple[str, int]) -> None:
    """Point this thread's connection at `node`; a new connection first waits until the node has applied
    everything committed before (the data this run just prepared through node1)."""
    host, port = node
    if (connection.settings_dict.get("HOST"), str(connection.settings_dict.get("PORT"))) == (host, str(port)):
        return
    connection.close()
    connection.settings_dict = {**connection.settings_dict, "HOST": host, "PORT": str(port)}
    with connection.cursor() as cursor:
        cursor.execute(SYNC_WAIT)


def _count_failure(call, *args) -> None:
    try:
        call(*args)
    except DatabaseError:
        with FAILED.get_lock():
            FAILED.value += 1


def _buy_one(work) -> None:
    node, listing_id, buyer_id, key = work
    use_node(node)
    _count_failure(lambda: listing_purchase(listing_id=listing_id, buyer_id=buyer_id, quantity=1, idempotency_key=key))


def _transfer_one(work) -> None:
    node, sender, receiver, key = work
    use_node(node)
    _count_failure(
        lambda: transfer(
            from_user_id=sender,
            to_user_id=receiver,
            asset_code="DIAMOND",
            amount=1,
            business_type="bench_transfer",
            business_id=key,
        )
    )


class Command(BaseCommand):
    help = "Benchmark a Galera cluster: writes on one node vs three, conflicts, causal backpack reads."

    def add_arguments(self, parser):
        where = parser.add_mutually_exclusive_group(required=True)
        where.add_argument("--nodes", help="The nodes' HOST:PORT, comma-separated (cluster.py start prints them).")
        where.add_argument(
            "--cluster-dir", type=Path, help="The directory of a cluster that scripts/cluster.py started."
        )
        parser.add_argument("--workers", type=int, default=6, help="Writers per run (processes, one GIL each).")
        parser.add_argument("--per-worker", type=int, default=100, help="Writes per worker and run.")
        parser.add_argument("--reads", type=int, default=200, help="Backpack reads with and without the wait.")
        parser.add_argument("--threads", action="store_true", help="Writers in threads instead of processes.")
        parser.add_argument("--force", action="store_true", help="Run even when DEBUG is off.")

    def handle(self, *args, nodes, cluster_dir, workers, per_worker, reads, threads, force, **options):
        if not settings.DEBUG and not force:
            raise CommandError("bench_cluster writes test data; it runs only with DEBUG on (or --force).")
        if cluster_dir:
            state = json.loads((cluster_dir / "cluster.json").read_text())  # scripts/cluster.py's state file
            self.nodes = [("127.0.0.1", node["port"]) for node in state["nodes"]]
        else:
            self.nodes = [(host, int(port)) for host, _, port in (node.rpartition(":") for node in nodes.split(","))]
        if len(self.nodes) < 2:
            raise CommandError("--nodes needs at least two nodes.")
        self.processes = not threads
        tag = uuid.uuid4().hex[:8]
        self.stdout.write(
            f"database {connection.settings_dict.get('NAME')} on {len(self.nodes)} nodes, {workers} "
            f"{'processes' if self.processes else 'threads'} × {per_worker} writes per run, run tag {tag}"
        )
        retries_log = logging.getLogger("core.db")
        retries_log.addHandler(RetryCounter(logging.INFO))
        retries_log.setLevel(logging.INFO)
        retries_log.propagate = False  # counted, not printed: a line per retry would bury the numbers
        rows = []
        # Query logging (DEBUG) costs CPU per query; production runs without it.
        with override_settings(DEBUG=False):
            use_node(self.nodes[0])
            for kind in ("purchases", "transfers"):
                for spread in (1, len(self.nodes)):
                    rows.append(self.write_run(f"{tag}-{kind[0]}{spread}", kind, spread, workers, per_worker))
            use_node(self.nodes[0])
            reads_report = self.read_run(tag, reads)
        self.report(rows, reads_report)

    # Writes -----------------------------------------------------------------------------------------

    def write_run(self, run_id: str, kind: str, spread: int, workers: int, per_worker: int) -> dict:
        use_node(self.nodes[0])
        if kind == "purchases":
            pairs = self.prepare_purchases(run_id, workers, per_worker)
            call = _buy_one
        else:
            pairs = self.prepare_transfers(run_id, workers, per_worker)
            call = _transfer_one
        work = [
            [(self.nodes[index % spread], *pairs[index], f"{run_id}-{index}-{n}") for n in range(per_worker)]
            for index in range(workers)
        ]
        before = self.wsrep_counters()
        RETRIES.value = FAILED.value = 0
        elapsed, samples = measure(call, work, processes=self.processes)
        use_node(self.nodes[0])
        after = self.wsrep_counters()
        quantiles = statistics.quantiles(sorted(samples), n=100, method="inclusive")
        writes = len(samples)
        return {
            "kind": kind,
            "nodes": spread,
            "writes": writes,
            "per_second": writes / elapsed,
            "p95_ms": quantiles[94] * 1000,
            "conflicts": sum(after[name] - before[name] for name in WSREP_COUNTERS),
            "retries": RETRIES.value,
            "failed": FAILED.value,
        }

    def prepare_purchases(self, run_id: str, workers: int, per_worker: int) -> list[tuple[int, int]]:
        """One seller with one listing of per_worker units and one buyer per worker."""
        User = get_user_model()
        pairs = []
        for index in range(workers):
            seller = User.objects.create(username=f"bench-{run_id}-s{index}")
            buyer = User.objects.create(username=f"bench-{run_id}-b{index}")
            self.fund(seller, LISTED_ASSET, per_worker)
            self.fund(buyer, "DIAMOND", per_worker * UNIT_PRICE)
            listing = listing_create(
                seller_id=seller.pk, asset_code=LISTED_ASSET, quantity=per_worker, unit_price=UNIT_PRICE
            )
            pairs.append((listing.pk, buyer.pk))
        return pairs

    def prepare_transfers(self, run_id: str, workers: int, per_worker: int) -> list[tuple[int, int]]:
        User = get_user_model()
        pairs = []
        for index in range(workers):
            sender = User.objects.create(username=f"bench-{run_id}-s{index}")
            receiver = User.objects.create(username=f"bench-{run_id}-r{index}")
            self.fund(sender, "DIAMOND", per_worker)
            pairs.append((sender.pk, receiver.pk))
        return pairs

    @staticmethod
    def fund(user, asset_code: str, amount: int) -> None:
        balance_change(
            user_id=user.pk,
            asset_code=asset_code,
            delta=amount,
            business_type="bench_grant",
            business_id=f"{user.username}:{asset_code}",
        )

    def wsrep_counters(self) -> dict[str, int]:
        """The conflict counters summed over the nodes."""
        totals = dict.fromkeys(WSREP_COUNTERS, 0)
        for node in self.nodes:
            use_node(node)
            with connection.cursor() as cursor:
                cursor.execute("SHOW GLOBAL STATUS WHERE Variable_name IN (%s, %s)", WSREP_COUNTERS)
                for name, value in cursor.fetchall():
                    totals[name.lower()] += int(value)
        return totals

    # Reads ------------------------------------------------------------------------------------------

    def read_run(self, tag: str, reads: int) -> dict:
        """GET backpack through node2 while a thread credits that backpack through node1, one DIAMOND a
        write; the reads alternate with and without the causal wait."""
        owner = get_user_model().objects.create(username=f"bench-{tag}-reader")
        self.fund(owner, "DIAMOND", 1)
        acknowledged = [1]  # the balance after the writer's last acknowledged write
        stop = threading.Event()

        def writer():
            use_node(self.nodes[0])
            try:
                while not stop.is_set():
                    self.fund_once(owner, acknowledged[0])
                    acknowledged[0] += 1
            finally:
                connection.close()

        use_node(self.nodes[1])
        clients = {
            "with the wait": self.client_for(owner, settings.MIDDLEWARE),
            "without": self.client_for(owner, [name for name in settings.MIDDLEWARE if name != CAUSAL_MIDDLEWARE]),
        }
        latencies = {mode: [] for mode in clients}
        stale = dict.fromkeys(clients, 0)
        thread = threading.Thread(target=writer)
        thread.start()
        try:
            for n in range(2 * reads):
                mode = "with the wait" if n % 2 else "without"
                expected = acknowledged[0]
                begun = time.perf_counter()
                response = clients[mode].get(BACKPACK)
                latencies[mode].append(time.perf_counter() - begun)
                assets = response.json()["assets"]
                stale[mode] += next(a["available_amount"] for a in assets if a["asset_code"] == "DIAMOND") < expected
        finally:
            stop.set()
            thread.join()
        return {
            mode: {
                "p50_ms": statistics.median(samples) * 1000,
                "p95_ms": statistics.quantiles(sorted(samples), n=100, method="inclusive")[94] * 1000,
                "stale": stale[mode],
                "reads": len(samples),
            }
            for mode, samples in latencies.items()
        } | {"writes": acknowledged[0] - 1}

    @staticmethod
    def client_for(owner, middleware: list[str]) -> APIClient:
        """A test client whose middleware is `middleware`: a client loads it at its first request, for good."""
        with override_settings(MIDDLEWARE=middleware):
            api = APIClient()
            api.force_authenticate(owner)
            api.get(BACKPACK)
        return api

    @staticmethod
    def fund_once(owner, n: int) -> None:
        balance_change(
            user_id=owner.pk, asset_code="DIAMOND", delta=1, business_type="bench_grant", business_id=f"{owner.pk}:{n}"
        )

    # The report -------------------------------------------------------------------------------------

    def report(self, rows: list[dict], reads: dict) -> None:
        self.stdout.write("")
        self.stdout.write(
            "| writes | nodes | count | per second | p95 ms | conflicts / 1,000 | retries / 1,000 | failed |"
        )
        self.stdout.write("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for row in rows:
            per_thousand = 1000 / row["writes"]
            self.stdout.write(
                f"| {row['kind']} | {row['nodes']} | {row['writes']} | {row['per_second']:.0f} | {row['p95_ms']:.1f} "
                f"| {row['conflicts'] * per_thousand:.1f} | {row['retries'] * per_thousand:.1f} | {row['failed']} |"
            )
        by_key = {(row["kind"], row["nodes"]): row for row in rows}
        for kind in ("purchases", "transfers"):
            one, spread = by_key[(kind, 1)], by_key[(kind, len(self.nodes))]
            self.stdout.write(
                f"{kind} spread over {len(self.nodes)} nodes: {spread['per_second'] / one['per_second']:.2f}× "
                "the rate on one node"
            )
        self.stdout.write("")
        self.stdout.write(
            f"GET backpack through node2 while node1 wrote it ({reads.pop('writes')} writes during the reads):"
        )
        for mode, row in reads.items():
            self.stdout.write(
                f"  {mode:>13}: p50 {row['p50_ms']:.1f} ms, p95 {row['p95_ms']:.1f} ms, "
                f"{row['stale']} of {row['reads']} reads missed a write acknowledged before they began"
            )
