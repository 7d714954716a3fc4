"""The tests marked `cluster` run on a 3-node Galera cluster (scripts/cluster.py), started once per session.

The cluster gets its own database, migrated through node1 as a deployment would (its DDL replicates in
total order). A test's Django connections then go to chosen nodes: `on_node(cluster, i)` points this thread's
default connection at node i, so that services and API views run unchanged, each thread writing through
its own node, as web workers behind the proxy would. The test's own thread is on node1 with causal reads
(`wsrep_sync_wait`), so that what it checks after a race includes every node's commits.
"""

import contextlib
import importlib.util
import logging
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import MySQLdb
import pytest
from django.db import connections

from core.db import DEADLOCK_ATTEMPTS

REPO = Path(__file__).resolve().parents[2]
DATABASE = "backpack_cluster"
NEEDS = ("mariadbd", "haproxy", "mariadb-backup", "socat")


def _cluster_module():
    spec = importlib.util.spec_from_file_location("cluster", REPO / "scripts" / "cluster.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["cluster"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


class Conflicts(logging.Handler):
    """Counts the retries of core.db.atomic_with_retry (its log lines), for the session's summary."""

    def __init__(self):
        super().__init__(logging.INFO)
        self.retries = 0
        self.at_commit = 0
        self.most_failed_attempts = 0

    def emit(self, record):
        if "certification conflict" in record.getMessage():
            self.retries += 1
            self.at_commit += "at COMMIT" in record.getMessage()
            self.most_failed_attempts = max(self.most_failed_attempts, record.args[-2])


TIMINGS: dict[str, float] = {}
CONFLICTS = Conflicts()


@pytest.fixture(scope="session")
def galera_cluster(tmp_path_factory):
    missing = [name for name in NEEDS if not (shutil.which(name) or os.access(f"/usr/sbin/{name}", os.X_OK))]
    if missing or not os.path.exists("/usr/lib/galera/libgalera_smm.so"):
        pytest.skip(f"the cluster tests need galera-4 and {', '.join(missing)} (scripts/ensure-build-deps.sh)")
    module = _cluster_module()
    started = time.monotonic()
    # tied: if this test session dies, the kernel ends the cluster's processes with it.
    cluster = module.Cluster.start(tmp_path_factory.mktemp("galera"), tied=True)
    TIMINGS["cluster start"] = time.monotonic() - started
    try:
        first = cluster.nodes[0]
        connection = MySQLdb.connect(host="127.0.0.1", port=first.port, user="root")
        connection.cursor().execute(f"CREATE DATABASE {DATABASE} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        connection.close()
        started = time.monotonic()
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"],
            cwd=REPO,
            env={
                **os.environ,
                "DATABASE_URL": f"{first.dsn}/{DATABASE}",
                "DJANGO_SETTINGS_MODULE": "backpack_site.test_settings",
            },
            check=True,
        )
        TIMINGS["migrate on the cluster"] = time.monotonic() - started
        logging.getLogger("core.db").addHandler(CONFLICTS)
        yield cluster
    finally:
        logging.getLogger("core.db").removeHandler(CONFLICTS)
        # By the state file, not this object: the torture run restarts nodes, as processes of its own.
        module.Cluster.load(cluster.root).stop()


@contextlib.contextmanager
def _on_node(cluster, index: int, *, causal: bool = False):
    """This thread's default connection goes to node `index` of the cluster (0, 1, 2) for the block.

    `causal`: its reads wait until the node has applied every write set committed anywhere before them.
    """
    wrapper = connections["default"]
    saved = wrapper.settings_dict
    wrapper.close()
    options = dict(saved.get("OPTIONS", {}))
    if causal:
        options["init_command"] = f"{options['init_command']}, wsrep_sync_wait = 1"  # one SET, session variables
    wrapper.settings_dict = {
        **saved,
        "HOST": "127.0.0.1",
        "PORT": str(cluster.nodes[index].port),
        "NAME": DATABASE,
        "USER": "root",
        "PASSWORD": "",
        "OPTIONS": options,
    }
    try:
        yield
    finally:
        wrapper.close()
        wrapper.settings_dict = saved


@pytest.fixture
def cluster(galera_cluster, django_db_blocker):
    """The cluster, with this test's thread on node1 (causal reads) and the database open to every thread."""
    with django_db_blocker.unblock(), _on_node(galera_cluster, 0, causal=True):
        yield galera_cluster


@pytest.fixture(scope="session")
def on_node():
    """on_node(cluster, index, causal=False): a context manager, this thread's connection on that node."""
    return _on_node


@pytest.fixture(scope="session")
def race(run_in_threads):
    """race(cluster, target, count, nodes=(0, 1)): run target(index) in `count` threads that start together,
    thread i writing through node nodes[i % len]."""

    def race(cluster, target, count: int, nodes=(0, 1)) -> list:
        def on_its_node(index):
            with _on_node(cluster, nodes[index % len(nodes)]):
                return target(index)

        return run_in_threads(on_its_node, count)

    return race


def pytest_terminal_summary(terminalreporter):
    if TIMINGS:
        terminalreporter.section("Galera cluster")
        for name, seconds in TIMINGS.items():
            terminalreporter.write_line(f"{name}: {seconds:.1f} s")
        terminalreporter.write_line(
            f"transactions retried after a deadlock or certification conflict: {CONFLICTS.retries} "
            f"({CONFLICTS.at_commit} at COMMIT); the most attempts one transaction failed: "
            f"{CONFLICTS.most_failed_attempts} (of {DEADLOCK_ATTEMPTS} allowed)"
        )
