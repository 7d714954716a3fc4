"""The short torture run on the session's Galera cluster (scripts/torture.py --cluster-dir): three gunicorns
through the proxy, a worker, the gunicorn master and Redis killed, and two nodes killed and rejoined; the
books hold, and the money tables are the same on every node. Its database is its own (backpack_torture);
it leaves every node Synced, and the session's teardown stops the nodes it restarted (by the state file)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.cluster, pytest.mark.torture]

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "torture.py"
CLUSTER_RUN = [
    "--seed", "11",
    "--duration", "60",
    "--clients", "12",
    "--worker-kills", "1",
    "--master-kills", "1",
    "--redis-stops", "1",
    "--node-kills", "2",
]  # fmt: skip


def test_a_short_torture_run_on_a_cluster_keeps_the_books_on_every_node(galera_cluster, tmp_path):
    summary_file = tmp_path / "summary.json"

    done = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--cluster-dir",
            galera_cluster.root,
            *CLUSTER_RUN,
            "--summary-json",
            str(summary_file),
        ],
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
