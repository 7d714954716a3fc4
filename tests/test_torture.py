"""The short torture runs: a seeded workload over HTTP while web workers, the gunicorn master, the
database and Redis are killed, then the checker (scripts/torture.py). It starts its own MariaDB,
Redis and gunicorn on free ports; it needs `mariadb-install-db`, `mariadbd` and `redis-server`.
The cluster run starts its own 3-node Galera cluster (scripts/cluster.py) and kills its nodes.
The README says how to run a long one."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.torture

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "torture.py"
SHORT_RUN = [
    "--seed", "7",
    "--duration", "35",
    "--clients", "12",
    "--worker-kills", "2",
    "--master-kills", "1",
    "--db-kills", "1",
    "--redis-stops", "1",
]  # fmt: skip


def test_a_short_torture_run_keeps_the_books(tmp_path):
    summary_file = tmp_path / "summary.json"

    done = subprocess.run(
        [sys.executable, str(SCRIPT), *SHORT_RUN, "--summary-json", str(summary_file)],
        capture_output=True,
        text=True,
        timeout=170,
    )

    output = done.stdout[-6000:] + done.stderr[-3000:]
    assert done.returncode == 0, output
    summary = json.loads(summary_file.read_text())
    assert summary["violations"] == [], output
    assert summary["faults"] == {"worker_kill": 2, "master_kill": 1, "db_kill": 1, "redis_stop": 1}, output
    assert summary["operations"]["acknowledged"] > 300, output
    assert summary["operations"]["indeterminate"] == 0, output


CLUSTER_RUN = [
    "--cluster",
    "--seed", "11",
    "--duration", "60",
    "--clients", "12",
    "--worker-kills", "1",
    "--master-kills", "1",
    "--redis-stops", "1",
    "--node-kills", "2",
]  # fmt: skip
CLUSTER_NEEDS = ("haproxy", "mariabackup", "socat")


@pytest.mark.cluster
@pytest.mark.skipif(
    not os.path.exists("/usr/lib/galera/libgalera_smm.so") or not all(shutil.which(name) for name in CLUSTER_NEEDS),
    reason="the cluster run needs galera-4, haproxy, mariadb-backup and socat (scripts/ensure-build-deps.sh)",
)
def test_a_short_torture_run_on_a_cluster_keeps_the_books_on_every_node(tmp_path):
    summary_file = tmp_path / "summary.json"

    done = subprocess.run(
        [sys.executable, str(SCRIPT), *CLUSTER_RUN, "--summary-json", str(summary_file)],
        capture_output=True,
        text=True,
        timeout=600,
    )

    output = done.stdout[-6000:] + done.stderr[-3000:]
    assert done.returncode == 0, output
    summary = json.loads(summary_file.read_text())
    assert summary["violations"] == [], output
    assert summary["faults"] == {"worker_kill": 1, "master_kill": 1, "redis_stop": 1, "node_kill": 2}, output
    assert summary["responses"]["bad_5xx"] == 0, output
    assert summary["checks"]["tables_identical_on_every_node"] == 15, output
    assert {f"reconcile_ledger_node{n}" for n in (1, 2, 3)} <= set(summary["checks"]), output
    assert summary["operations"]["acknowledged"] > 300, output
    assert summary["operations"]["indeterminate"] == 0, output
