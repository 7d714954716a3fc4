"""The short torture run: a seeded workload over HTTP while web workers, the gunicorn master, the
database and Redis are killed, then the checker (scripts/torture.py). It starts its own MariaDB,
Redis and gunicorn on free ports; it needs `mariadb-install-db`, `mariadbd` and `redis-server`.
Its cluster run is in tests/cluster/test_torture_on_cluster.py.
The README says how to run a long one."""

import json
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
