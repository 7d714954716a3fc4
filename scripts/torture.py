#!/usr/bin/env python3
"""Torture run: the books must hold while web workers, the database and Redis are killed mid-request.

Starts its own MariaDB (a fresh data directory), its own Redis and its own gunicorn on free ports of
127.0.0.1, never touching the machine's shared ones; drives the economy over HTTP with N seeded
clients that retry lost answers with the same Idempotency-Key; kills gunicorn workers, the gunicorn
master, `mariadbd` and Redis on a seeded schedule and starts them again; then checks what clients
were told against what the database holds (scripts/torture_checker.py). Exit status 0 only when
no violation was found. It ends only the processes it started, by their PIDs.

With `--cluster` the database is a 3-node Galera cluster behind haproxy (scripts/cluster.py) instead:
three gunicorns, each through the proxy, the clients spread over them, and `kill -9` of a node's
`mariadbd` (then its restart and rejoin by IST) among the faults; the checker also compares the money
tables on the three nodes and runs `reconcile_ledger` against each.

    .venv/bin/python scripts/torture.py --seed 1 --duration 600           # the long run
    .venv/bin/python scripts/torture.py --seed 7 --duration 35 --clients 12 --worker-kills 2 \\
        --master-kills 1 --db-kills 1 --redis-stops 1                      # the short run of `make test`
    .venv/bin/python scripts/torture.py --cluster --seed 3 --duration 600  # the long run on a cluster
    .venv/bin/python scripts/torture.py --cluster-dir DIR ...              # on a cluster already running
"""

import argparse
import contextlib
import dataclasses
import json
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from cluster import Cluster, answers, find_binary, free_port, proc_stat, process_start_time, wait_until  # noqa: E402
from torture_checker import Checker, Node  # noqa: E402
from torture_client import Capabilities, Client, Stats, TransportError, http_call  # noqa: E402

DATABASE_NAME = "backpack_torture"


class Interrupted(Exception):
    """SIGTERM: clean up as for Ctrl-C."""


def children_of(pid: int) -> list[int]:
    """The live children of `pid` (a zombie has already exited)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = proc_stat(int(entry))
            if fields and fields[0] != "Z" and fields[1] == str(pid):
                found.append(int(entry))
    return found


class Processes:
    """Every process this run started, by PID and start time; only these are ever signalled."""

    def __init__(self, root: Path):
        self.root = root
        self.known: dict[int, str] = {}
        self.pdeathsig = shutil.which("setpriv")

    def spawn(self, name: str, argv: list[str], *, env=None, cwd=None) -> subprocess.Popen:
        # setpriv --pdeathsig: if this harness dies without cleaning up (SIGKILL), the kernel kills its children.
        if self.pdeathsig:
            argv = [self.pdeathsig, "--pdeathsig", "KILL", "--", *argv]
        log = open(self.root / f"{name}.log", "ab")  # noqa: SIM115 - the child keeps it
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=cwd, start_new_session=True)
        log.close()
        self.track(process.pid)
        return process

    def track(self, pid: int) -> None:
        started = process_start_time(pid)
        if started:
            self.known[pid] = started

    def alive(self, pid: int) -> bool:
        return pid in self.known and process_start_time(pid) == self.known[pid]

    def kill(self, pid: int, sig=signal.SIGKILL) -> bool:
        if not self.alive(pid):
            return False
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return False
        return True

    def kill_all(self) -> None:
        for pid in list(self.known):
            self.kill(pid)
        deadline = time.monotonic() + 10
        while any(self.alive(pid) for pid in self.known) and time.monotonic() < deadline:
            time.sleep(0.05)
        for pid in self.known:  # the exit statuses of its children: no zombie outlives the run
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)


class MariaDB:
    def __init__(self, processes: Processes, root: Path):
        self.processes, self.root = processes, root
        self.datadir, self.socket, self.port = root / "mysql-data", root / "mysql.sock", free_port()
        self.process: subprocess.Popen | None = None
        self.user = ["--user=root"] if os.geteuid() == 0 else []

    def install(self) -> None:
        install = find_binary("mariadb-install-db", "mysql_install_db")
        subprocess.run(
            [
                install,
                "--no-defaults",
                f"--datadir={self.datadir}",
                *self.user,
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def start(self) -> None:
        self.process = self.processes.spawn(
            "mariadbd",
            [
                find_binary("mariadbd", "mysqld"),
                "--no-defaults",
                f"--datadir={self.datadir}",
                *self.user,
                f"--port={self.port}",
                "--bind-address=127.0.0.1",
                f"--socket={self.socket}",
                f"--pid-file={self.root / 'mariadbd.pid'}",
                "--skip-name-resolve",
                "--skip-log-bin",
                "--innodb-buffer-pool-size=128M",
                "--innodb-log-file-size=48M",
                "--innodb-flush-log-at-trx-commit=1",  # durable: what was acknowledged survives kill -9
                "--innodb-lock-wait-timeout=10",
                "--innodb-file-per-table=0",  # a throwaway database: one tablespace makes migrate quicker
                "--max-connections=400",
                "--character-set-server=utf8mb4",
            ],
        )
        self.wait_ready()

    def wait_ready(self, timeout=120) -> None:
        import MySQLdb

        wait_until(
            answers(
                lambda: MySQLdb.connect(unix_socket=str(self.socket), user="root", connect_timeout=2), MySQLdb.Error
            ),
            f"mariadbd does not answer; see {self.root}/mariadbd.log",
            timeout=timeout,
            alive=lambda: self.process.poll() is None,
        )

    def kill(self) -> None:
        self.processes.kill(self.process.pid)
        self.process.wait()

    def connect(self):
        import MySQLdb

        return MySQLdb.connect(unix_socket=str(self.socket), user="root", db=DATABASE_NAME, charset="utf8mb4")

    @property
    def url(self) -> str:
        return f"mysql://root@127.0.0.1:{self.port}/{DATABASE_NAME}"

    def create_database(self) -> None:
        import MySQLdb

        connection = MySQLdb.connect(unix_socket=str(self.socket), user="root")
        connection.cursor().execute(f"CREATE DATABASE {DATABASE_NAME} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        connection.close()


class ClusterDatabase:
    """The torture database on a Galera cluster: the app goes through the proxy, the checker to each node."""

    def __init__(self, cluster: Cluster):
        self.cluster = cluster

    @property
    def url(self) -> str:
        return f"{self.cluster.dsn}/{DATABASE_NAME}"

    def create_database(self) -> None:
        connection = self.cluster.nodes[0].connect()
        cursor = connection.cursor()
        cursor.execute(f"DROP DATABASE IF EXISTS {DATABASE_NAME}")  # a running cluster's, from an earlier run
        cursor.execute(f"CREATE DATABASE {DATABASE_NAME} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        connection.close()

    def nodes(self) -> list[Node]:
        return [
            Node(
                node.name,
                lambda node=node: node.connect(db=DATABASE_NAME, charset="utf8mb4"),
                f"{node.dsn}/{DATABASE_NAME}",
            )
            for node in self.cluster.nodes
        ]

    def connect(self):
        return self.cluster.nodes[0].connect(db=DATABASE_NAME, charset="utf8mb4")

    def wsrep_counters(self) -> dict[str, dict[str, int]]:
        """Per node since its last start: write sets it originated, certification failures, local
        transactions aborted by a replicated one."""
        names = ("replicated", "local_cert_failures", "local_bf_aborts")
        return {
            node.name: {name: int(status.get(name, 0)) for name in names}
            for node in self.cluster.nodes
            for status in [node.wsrep_status()]
        }


class Redis:
    def __init__(self, processes: Processes, root: Path):
        self.processes, self.root, self.port = processes, root, free_port()
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = self.processes.spawn(
            "redis",
            [
                find_binary("redis-server"),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.root),
                "--daemonize",
                "no",
            ],
        )
        self.wait_ready()

    def wait_ready(self, timeout=30) -> None:
        def pong() -> bool:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                    sock.sendall(b"PING\r\n")
                    return sock.recv(16).startswith(b"+PONG")
            except OSError:
                return False

        wait_until(pong, f"redis-server does not answer; see {self.root}/redis.log", timeout=timeout)

    def kill(self) -> None:
        self.processes.kill(self.process.pid)
        self.process.wait()


class Gunicorn:
    def __init__(self, processes: Processes, root: Path, env: dict, workers: int, name: str = "gunicorn"):
        self.processes, self.root, self.env, self.workers, self.name = processes, root, env, workers, name
        self.port = free_port()
        self.master: subprocess.Popen | None = None

    def start(self) -> None:
        self.master = self.processes.spawn(
            self.name,
            [
                str(Path(sys.executable).parent / "gunicorn")
                if (Path(sys.executable).parent / "gunicorn").exists()
                else find_binary("gunicorn"),
                "backpack_site.wsgi",
                "--workers",
                str(self.workers),
                "--bind",
                f"127.0.0.1:{self.port}",
                "--reuse-port",  # a new master binds while the old one's orphaned workers still listen
                "--timeout",
                "20",
                "--graceful-timeout",
                "5",
                "--backlog",
                "256",
                "--no-control-socket",  # gunicorn's default, ~/.gunicorn/gunicorn.ctl, is shared by every gunicorn
            ],
            env=self.env,
            cwd=REPO,
        )
        self.wait_ready()

    def wait_ready(self, timeout=60) -> None:
        def serving() -> bool:
            try:
                healthy = http_call(self.port, "GET", "/healthz").status == 200
            except TransportError:
                return False
            return healthy and len(self.worker_pids()) == self.workers

        wait_until(
            serving,
            f"gunicorn does not answer; see {self.root}/{self.name}.log",
            timeout=timeout,
            alive=lambda: self.master.poll() is None,
        )

    def worker_pids(self) -> list[int]:
        pids = children_of(self.master.pid)
        for pid in pids:
            self.processes.track(pid)
        return pids

    def kill_worker(self, rng: random.Random) -> bool:
        pids = self.worker_pids()
        return bool(pids) and self.processes.kill(rng.choice(sorted(pids)))

    def kill_master(self, rng: random.Random) -> None:
        """kill -9 the master; its workers, orphaned, finish what they serve. A new master takes over,
        then the orphans are ended by PID (they exit by themselves once they see their parent gone)."""
        orphans = self.worker_pids()
        self.processes.kill(self.master.pid)
        self.master.wait()
        time.sleep(rng.uniform(0.2, 1.5))
        self.start()
        deadline = time.monotonic() + 3
        while any(self.processes.alive(pid) for pid in orphans) and time.monotonic() < deadline:
            time.sleep(0.1)
        for pid in orphans:
            self.processes.kill(pid)


def fault_schedule(rng: random.Random, duration: float, counts: dict[str, int]) -> list[tuple[float, str]]:
    """When each fault strikes: spread over the run, leaving its last fifth for the books to settle."""
    kinds = [kind for kind, count in counts.items() for _ in range(count)]
    rng.shuffle(kinds)
    if not kinds:
        return []
    window_start, window_end = 0.08 * duration, 0.8 * duration
    slot = (window_end - window_start) / len(kinds)
    return [(window_start + i * slot + rng.uniform(0, 0.8 * slot), kind) for i, kind in enumerate(kinds)]


class Torture:
    def __init__(self, args):
        self.args = args
        self.rng = random.Random(args.seed)
        self.root = Path(tempfile.mkdtemp(prefix="torture-"))
        self.processes = Processes(self.root)
        self.faults = Counter()
        self.fault_log: list[dict] = []
        self.stats = Stats()
        self.stop = threading.Event()
        self.clients: list[Client] = []
        self.cluster: Cluster | None = None
        self.gunicorns: list[Gunicorn] = []
        self.started = 0.0

    def server_env(self) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "REDIS_", "CACHE_", "CELERY_"))}
        redis_url = f"redis://127.0.0.1:{self.redis.port}"
        env.update(
            DJANGO_SETTINGS_MODULE="backpack_site.settings",
            DEBUG="0",
            SECRET_KEY=secrets.token_urlsafe(32),
            REDEMPTION_CODE_SECRET=secrets.token_urlsafe(32),
            DATABASE_URL=self.database.url,
            REDIS_URL=f"{redis_url}/0",
            CELERY_BROKER_URL=f"{redis_url}/0",
            CACHE_URL=f"{redis_url}/1",
            ALLOWED_HOSTS="127.0.0.1,localhost",
            SECURE_SSL_REDIRECT="0",
            JWT_ACCESS_MINUTES="1440",
            REDEMPTION_FAILURE_LIMIT="1000000",
            ALERT_WEBHOOK_URL="",
            LOG_LEVEL="WARNING",
            STATIC_ROOT=str(self.root / "static"),
            PYTHONUNBUFFERED="1",
        )
        if self.cluster:
            # The proxy balances connections, not queries: a worker keeps its node until it reconnects. Kept
            # briefly, connections spread again over a node that rejoined, instead of staying on the others.
            env["DB_CONN_MAX_AGE"] = "5"
        return env

    def manage(self, *argv: str, database_url: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "manage.py", *argv],
            cwd=REPO,
            env={**self.env, "DATABASE_URL": database_url} if database_url else self.env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    def set_up(self) -> dict:
        self.redis = Redis(self.processes, self.root)
        began = time.monotonic()
        if self.args.cluster_dir:
            self.cluster = Cluster.load(self.args.cluster_dir)
            # The nodes this run restarts must outlive it: the cluster's owner stops them (by the state file).
            self.cluster.tied = False
        elif self.args.cluster:
            # tied: the kernel ends the cluster if this harness dies uncleanly.
            self.cluster = Cluster.start(self.root / "cluster", tied=True)
        if self.cluster:
            self.database = ClusterDatabase(self.cluster)
        else:
            self.database = MariaDB(self.processes, self.root)
            self.database.install()
            self.database.start()
        self.database.create_database()
        self.redis.start()
        (self.root / "static").mkdir()  # the API serves no static files: an empty STATIC_ROOT will do
        self.env = self.server_env()
        database_ready = time.monotonic()
        done = self.manage("migrate", "--no-input", "-v0")
        if done.returncode:
            raise RuntimeError(f"manage.py migrate failed:\n{done.stderr[-3000:]}")
        migrated = time.monotonic()
        world = self.manage("torture_world", "--customers", str(self.args.clients), "--staff", str(self.args.staff))
        if world.returncode:
            raise RuntimeError(f"manage.py torture_world failed:\n{world.stderr[-3000:]}")
        # On a cluster, one gunicorn per web machine, each reaching the nodes through the proxy as the
        # deployment does: every worker's connection lands on a node by round robin, so clients of one
        # gunicorn write through different nodes, and a node's death moves its connections elsewhere.
        populated = time.monotonic()
        for index in range(3 if self.cluster else 1):
            name = f"gunicorn{index + 1}" if self.cluster else "gunicorn"
            self.gunicorns.append(Gunicorn(self.processes, self.root, self.env, self.args.workers, name))
            self.gunicorns[-1].start()
        print(
            f"torture: {'the cluster' if self.cluster else 'MariaDB'} and Redis up in {database_ready - began:.1f} s, "
            f"migrated in {migrated - database_ready:.1f} s, users in {populated - migrated:.1f} s, "
            f"{len(self.gunicorns)} gunicorn up in {time.monotonic() - populated:.1f} s",
            flush=True,
        )
        return json.loads(world.stdout)

    def inject(self, schedule: list[tuple[float, str]], started: float) -> None:
        """Run the fault schedule (in the main thread: the processes it restarts are its children)."""
        for at, kind in schedule:
            while time.monotonic() - started < at:
                time.sleep(0.05)
            began = time.monotonic()
            detail = {}
            if kind == "worker_kill":
                if not self.pick_gunicorn().kill_worker(self.rng):
                    continue
            elif kind == "master_kill":
                self.pick_gunicorn().kill_master(self.rng)
            elif kind == "db_kill":
                self.database.kill()
                time.sleep(self.rng.uniform(0.5, 3.0))
                self.database.start()
            elif kind == "node_kill":
                node = self.rng.choice(self.cluster.nodes)
                self.cluster.kill(node.name)
                detail["node"] = node.name
                detail["evicted_after_s"] = round(self.wait_evicted(node), 1)
                time.sleep(self.rng.uniform(0.5, 3.0))
                detail["rejoined_after_s"] = round(self.cluster.restart(node.name), 1)
            elif kind == "redis_stop":
                self.redis.kill()
                time.sleep(self.rng.uniform(0.5, 3.0))
                self.redis.start()
            detail["outage_s"] = round(time.monotonic() - began, 2)
            self.faults[kind] += 1
            self.fault_log.append({"at_s": round(began - started, 1), "kind": kind, **detail})
            print(f"torture: {began - started:6.1f} s  {kind:<12} {detail}", flush=True)

    def wait_evicted(self, dead, timeout: float = 60) -> float:
        """Until the survivors have dropped the killed node from their view (evs.suspect_timeout; their
        commits wait until then). A node that came back before that would rejoin a view that still holds
        its old self: it gets in, but only after several more view changes (20 s instead of 2)."""
        survivors = [node for node in self.cluster.nodes if node is not dead]
        return wait_until(
            lambda: all(node.wsrep_status().get("cluster_size") == str(len(survivors)) for node in survivors),
            f"torture: the survivors still count {dead.name}",
            timeout=timeout,
        )

    def pick_gunicorn(self) -> Gunicorn:
        return self.rng.choice(self.gunicorns) if len(self.gunicorns) > 1 else self.gunicorns[0]

    def run(self) -> int:
        args = self.args
        where = " on a 3-node cluster" if args.cluster else ""
        print(
            f"torture: seed {args.seed}, {args.duration:.0f} s, {args.clients} clients{where}, in {self.root}",
            flush=True,
        )
        set_up_started = time.monotonic()
        world = self.set_up()
        run_id = f"t{args.seed}"
        seeds = random.Random(args.seed)
        self.clients = [
            Client(
                index=i,
                run_id=run_id,
                world=world,
                port=self.gunicorns[i % len(self.gunicorns)].port,
                seed=seeds.getrandbits(64),
                stats=self.stats,
                caps=Capabilities(),
                stop=self.stop,
            )
            for i in range(args.clients)
        ]
        caps = probe(self.clients[0])
        for client in self.clients:
            client.caps = caps
        print(
            f"torture: set up in {time.monotonic() - set_up_started:.1f} s; server idempotency keys on "
            f"listings: {caps.listing_keys}, redemption orders: {caps.order_keys}; gifts: {caps.gifts}",
            flush=True,
        )
        counts = {
            "worker_kill": args.worker_kills,
            "master_kill": args.master_kills,
            "db_kill": args.db_kills,
            "redis_stop": args.redis_stops,
            "node_kill": args.node_kills,
        }
        schedule = fault_schedule(self.rng, args.duration, counts)
        started = self.started = time.monotonic()
        for client in self.clients:
            client.start()
        self.inject(schedule, started)
        while time.monotonic() - started < args.duration:
            time.sleep(0.1)
        self.stop.set()
        for client in self.clients:
            client.join()
        workload_seconds = time.monotonic() - started
        checker = Checker(
            clients=self.clients,
            world=world,
            caps=caps,
            database=self.database,
            nodes=self.database.nodes() if self.cluster else [],
            port=self.gunicorns[0].port,
            manage=self.manage,
            stats=self.stats,
        )
        violations = checker.check()
        if self.cluster:
            self.wsrep = self.database.wsrep_counters()
        summary = self.summary(checker, violations, workload_seconds, time.monotonic() - set_up_started)
        print(summary["text"], flush=True)
        if args.summary_json:
            Path(args.summary_json).write_text(json.dumps({k: v for k, v in summary.items() if k != "text"}, indent=1))
        if args.ops_json:
            ops = [dataclasses.asdict(op) for client in self.clients for op in client.ops]
            Path(args.ops_json).write_text(json.dumps(ops, default=str))
        return 1 if violations else 0

    def summary(self, checker, violations, workload_seconds, total_seconds) -> dict:
        ops = [op for client in self.clients for op in client.ops]
        writes = [op for op in ops if op.kind != "lookup"]
        outcomes = Counter(op.outcome for op in ops)
        kinds = Counter(op.kind for op in ops)
        acked_kinds = Counter(op.kind for op in ops if op.outcome in ("ok", "refused", "reconciled"))
        retried = [op for op in ops if op.ambiguous]
        by_kind_violations = Counter(v["check"] for v in violations)
        data = {
            "seed": self.args.seed,
            "duration_s": round(workload_seconds, 1),
            "total_s": round(total_seconds, 1),
            "clients": self.args.clients,
            "workers": self.args.workers,
            "operations": {
                "attempted": len(ops),
                "writes": len(writes),
                "acknowledged": outcomes["ok"] + outcomes["refused"] + outcomes["reconciled"],
                "ok": outcomes["ok"],
                "refused": outcomes["refused"],
                "reconciled": outcomes["reconciled"],
                "indeterminate": outcomes["indeterminate"],
                "retried": len(retried),
                "retry_attempts": sum(op.ambiguous for op in ops),
                "replays": sum(1 for op in ops if op.replay_of is not None),
                "retried_by_kind": dict(sorted(Counter(op.kind for op in retried).items())),
                "by_kind": {kind: f"{acked_kinds[kind]}/{kinds[kind]}" for kind in sorted(kinds)},
                "reads": self.stats.reads,
            },
            "responses": {
                "by_status": {str(k): v for k, v in sorted(self.stats.statuses.items())},
                "transport_errors": dict(self.stats.transport_errors),
                "service_unavailable_503": self.stats.statuses[503],
                "bad_5xx": len(self.stats.bad_server_errors),
            },
            "faults": dict(self.faults),
            "fault_log": self.fault_log,
            "node_kills": self.node_kill_outages(),
            "checks": checker.passed,
            "violations": violations,
            "violations_by_check": dict(by_kind_violations),
        }
        lines = [
            "",
            "==== torture summary ====",
            f"seed {data['seed']}: workload {data['duration_s']} s (whole run {data['total_s']} s), "
            f"{data['clients']} clients, {len(self.gunicorns)} × {data['workers']} gunicorn workers",
            "operations: attempted {attempted} (writes {writes}), acknowledged {acknowledged} "
            "(ok {ok}, refused {refused}, found after a lost answer {reconciled}), indeterminate {indeterminate}, "
            "retried {retried} ({retry_attempts} extra attempts), deliberate replays {replays}, reads {reads}".format(
                **data["operations"]
            ),
            "  acknowledged/attempted by kind: "
            + ", ".join(f"{k} {v}" for k, v in data["operations"]["by_kind"].items()),
            "  retried by kind: " + ", ".join(f"{k} {v}" for k, v in data["operations"]["retried_by_kind"].items()),
            f"responses: {data['responses']['by_status']}; no answer: {data['responses']['transport_errors']}; "
            f"5xx other than 503 service_unavailable: {data['responses']['bad_5xx']}",
            "faults injected: " + ", ".join(f"{k} {v}" for k, v in sorted(self.faults.items())),
        ]
        for kill in data["node_kills"]:
            lines.append(
                f"  node kill at {kill['at_s']} s ({kill['node']}; the others dropped it after {kill['evicted_after_s']} s; "
                f"Synced again {kill['rejoined_after_s']} s after its restart): "
                f"{kill['responses_503']} × 503 over {kill['seconds_of_503']} s"
            )
        if self.cluster:
            data["wsrep"] = self.wsrep
            lines.append(
                "cluster (per node since its last start): "
                + "; ".join(
                    f"{name} write sets {c['replicated']}, cert failures {c['local_cert_failures']}, "
                    f"bf aborts {c['local_bf_aborts']}"
                    for name, c in self.wsrep.items()
                )
            )
        lines += [
            "checks: " + ", ".join(f"{name} {count}" for name, count in checker.passed.items()),
            f"violations: {len(violations)}" + (f" {dict(by_kind_violations)}" if violations else ""),
        ]
        for check in by_kind_violations:
            samples = [v for v in violations if v["check"] == check][:3]
            lines += [f"  - {json.dumps(v, default=str)[:300]}" for v in samples]
        data["text"] = "\n".join(lines)
        return data

    def node_kill_outages(self) -> list[dict]:
        """For each node kill: the 503s answered from the kill until the next fault (or the end), and the
        seconds from the kill to the last of them."""
        answered = sorted(at - self.started for at in self.stats.unavailable_at)
        outages = []
        for index, fault in enumerate(self.fault_log):
            if fault["kind"] != "node_kill":
                continue
            until = self.fault_log[index + 1]["at_s"] if index + 1 < len(self.fault_log) else float("inf")
            window = [at for at in answered if fault["at_s"] <= at < until]
            outages.append(
                {
                    "at_s": fault["at_s"],
                    "node": fault["node"],
                    "evicted_after_s": fault["evicted_after_s"],
                    "rejoined_after_s": fault["rejoined_after_s"],
                    "responses_503": len(window),
                    "seconds_of_503": round(window[-1] - fault["at_s"], 1) if window else 0.0,
                }
            )
        return outages

    def clean_up(self) -> None:
        self.stop.set()
        for gunicorn in self.gunicorns:
            if gunicorn.master is not None:
                gunicorn.worker_pids()  # workers it started since they were last listed: ended with it
        self.processes.kill_all()
        if self.cluster is not None and not self.args.cluster_dir:
            self.cluster.stop()
        if self.args.keep:
            print(f"torture: kept {self.root}", flush=True)
        else:
            shutil.rmtree(self.root, ignore_errors=True)


def probe(client: Client) -> Capabilities:
    """What the server supports: Idempotency-Key on listing and order creates, and gifts. Each probe is a
    real write of client 0, kept in its books like any other."""
    caps = Capabilities()
    client.caps = caps
    reply = http_call(client.port, "POST", "/api/v4/gifts", body={}, headers=client.headers("customer"))
    caps.gifts = reply.status != 404
    client.grant_asset("red_shard", 4)
    body = {"asset_code": "red_shard", "quantity": 1, "unit_price": 7}
    params = {"listing_type": "asset", **body}
    first = client.execute(client.op("listing_create", path="market/listings", body=body, params=params))
    again = client.execute(client.op("listing_create", path="market/listings", body=body, params=params, key=first.key))
    caps.listing_keys = first.outcome == again.outcome == "ok" and first.reply["id"] == again.reply["id"]
    for op in (first, again):
        if op.outcome == "ok" and op.reply["id"] not in client.listings:
            client.listings[op.reply["id"]] = {
                "type": "asset",
                "asset": "red_shard",
                "quantity": 1,
                "unit_price": 7,
                "item_id": None,
                "open": True,
            }
            client.assets["red_shard"] -= 1
    if caps.listing_keys:
        again.replay_of = first.seq
    item = client.grant_item("voucher")
    if item.outcome == "ok":
        item_id = item.reply["item_instance_id"]
        first = client.order_create(item_id)
        path = f"items/{item_id}/redemption-orders"
        again = client.execute(
            client.op("order_create", path=path, params={"item_instance_id": item_id}, key=first.key)
        )
        caps.order_keys = first.outcome == again.outcome == "ok" and first.reply["order_id"] == again.reply["order_id"]
        if caps.order_keys:
            again.replay_of = first.seq
        elif again.outcome == "ok" and first.outcome == "ok":
            client.orders[first.reply["order_id"]]["status"] = "replaced"
            client.orders[again.reply["order_id"]] = {
                "item_id": item_id,
                "code": again.reply["code"],
                "status": "pending",
            }
    return caps


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--duration", type=float, default=60, help="Seconds of workload (set-up and checks add some).")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--staff", type=int, default=4, help="Merchant staff users the clients share.")
    parser.add_argument("--cluster", action="store_true", help="On a 3-node Galera cluster (scripts/cluster.py).")
    parser.add_argument(
        "--cluster-dir",
        type=Path,
        help="On the running cluster that scripts/cluster.py started in this directory (implies --cluster), "
        "left running; its database backpack_torture is made anew.",
    )
    parser.add_argument(
        "--workers", type=int, help="Workers per gunicorn. Default: 4, or 2 for each of the cluster's 3."
    )
    parser.add_argument("--worker-kills", type=int, help="Default: 4 a minute, at least 1.")
    parser.add_argument("--master-kills", type=int, help="Default: 1 every 2 minutes, at least 1.")
    parser.add_argument("--db-kills", type=int, help="Default: 1 every 2 minutes, at least 1 (none on a cluster).")
    parser.add_argument("--node-kills", type=int, help="kill -9 of a cluster node. Default: 1 a minute, at least 1.")
    parser.add_argument("--redis-stops", type=int, help="Default: 1 every 2.5 minutes, at least 1.")
    parser.add_argument("--summary-json", help="Also write the summary as JSON to this file.")
    parser.add_argument("--ops-json", help="Also write every operation, its attempts and its answer, to this file.")
    parser.add_argument("--keep", action="store_true", help="Keep the temporary directory (logs, data).")
    args = parser.parse_args(argv)
    minutes = args.duration / 60
    args.cluster = args.cluster or args.cluster_dir is not None
    if args.cluster and args.db_kills:
        parser.error("--db-kills stops the single MariaDB; on a cluster, --node-kills")
    if args.workers is None:
        args.workers = 2 if args.cluster else 4
    defaults = {"worker_kills": 4, "master_kills": 0.5, "redis_stops": 0.4}
    defaults.update({"node_kills": 1, "db_kills": 0} if args.cluster else {"node_kills": 0, "db_kills": 0.5})
    for name, per_minute in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, max(1, round(per_minute * minutes)) if per_minute else 0)
    if args.node_kills and not args.cluster:
        parser.error("--node-kills needs --cluster")

    def interrupted(signum, frame):
        raise Interrupted()

    signal.signal(signal.SIGTERM, interrupted)
    torture = Torture(args)
    try:
        return torture.run()
    except (KeyboardInterrupt, Interrupted):
        print("torture: interrupted", file=sys.stderr)
        return 130
    finally:
        torture.clean_up()


if __name__ == "__main__":
    sys.exit(main())
