#!/usr/bin/env python3
"""A 3-node MariaDB Galera cluster on 127.0.0.1 behind haproxy, for tests and demos (SPEC §9).

    .venv/bin/python scripts/cluster.py start [--dir DIR]   # prints the DSNs; state in DIR/cluster.json
    .venv/bin/python scripts/cluster.py status | stop | kill node2 | restart node2

Each node is a `mariadbd` with wsrep on its own free ports (client, Galera replication, IST and SST)
and its own data directory under DIR (default: $TMPDIR/backpack-cluster). node1 bootstraps the
cluster; node2 and node3 start from an empty data directory and are filled by a state transfer
(SST by mariabackup: rsync's daemon drops to a user that cannot write a root-owned data directory).
`restart` after `kill` (a kill -9) recovers the node's last committed position first
(`mariadbd --wsrep-recover`), so that it rejoins by IST, the missed write sets only, instead of a
full SST; if no other node is up, it bootstraps a new cluster from this node's data.

haproxy (TCP) spreads client connections over the nodes and health-checks each through a
clustercheck-style probe (`cluster.py probe`, one small HTTP process started with the cluster): 200
only while the node's `wsrep_local_state_comment` is Synced and `wsrep_ready` is ON. haproxy cannot
read wsrep status itself (its mysql-check only sees the handshake, which a desynced or non-primary
node still completes), and the app's /healthz is the wrong judge for a database proxy: it answers
for one web process, while every web worker, Celery worker and command goes through the proxy.

Only the processes recorded in the state file are ever signalled, by PID and start time. Also a
module: `Cluster.start(root)` / `Cluster.load(root)` for the pytest fixture (tests/cluster/conftest.py)
and the torture run, which also uses its process helpers (free ports, start times, waiting).
"""

import argparse
import contextlib
import dataclasses
import http.server
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

GALERA_PROVIDER = "/usr/lib/galera/libgalera_smm.so"
CLUSTER_NAME = "backpack"
NODE_NAMES = ("node1", "node2", "node3")
SST_USER, SST_PASSWORD = "sst", "sst-password"  # a throwaway loopback cluster: mariabackup's donor login
STATE_FILE = "cluster.json"
DEFAULT_ROOT = Path(tempfile.gettempdir()) / "backpack-cluster"


def find_binary(name: str, *fallbacks: str) -> str:
    """The path of program `name`, else of the first of `fallbacks` (its older names) found."""
    for program in (name, *fallbacks):
        for candidate in (
            shutil.which(program),
            *(f"{d}/{program}" for d in ("/usr/sbin", "/usr/bin", "/usr/local/sbin")),
        ):
            if candidate and os.access(candidate, os.X_OK):
                return candidate
    raise SystemExit(f"{name} not found (the README's Tests section says which packages; scripts/ensure-build-deps.sh)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def proc_stat(pid: int) -> list[str]:
    """The fields of /proc/PID/stat after the command name (state, ppid, ...); [] when there is no such process."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return []


def process_start_time(pid: int) -> str | None:
    """The start time of a running process (field 22 of /proc/PID/stat): tells a PID from its reuse. None for
    a zombie: it has exited, and its parent (perhaps another harness's process) has not collected it yet."""
    fields = proc_stat(pid)
    return fields[19] if len(fields) > 19 and fields[0] != "Z" else None


def wait_until(
    ready: Callable[[], bool], failure: str, *, timeout: float, alive: Callable[[], bool] | None = None
) -> float:
    """Poll `ready()` until it holds; the seconds that took. RuntimeError(`failure`) after `timeout`, or at once
    when `alive()` says the process waited for has exited."""
    started = time.monotonic()
    while not ready():
        if alive and not alive():
            raise RuntimeError(f"{failure} (it exited)")
        if time.monotonic() - started > timeout:
            raise RuntimeError(f"{failure} (after {timeout:.0f} s)")
        time.sleep(0.1)
    return time.monotonic() - started


def answers(connect: Callable, error: type[Exception]) -> Callable[[], bool]:
    """A `ready` for wait_until: whether `connect()` succeeds (its connection closed at once) or raises `error`."""

    def ready() -> bool:
        try:
            connect().close()
        except error:
            return False
        return True

    return ready


@dataclasses.dataclass
class Process:
    """A process this cluster started; signalled only while its PID still names it."""

    pid: int
    started: str

    def alive(self) -> bool:
        return process_start_time(self.pid) == self.started

    def send(self, sig: int) -> None:
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)

    def end(self, sig: int = signal.SIGTERM, timeout: float = 30) -> None:
        self.send(sig)
        if not self.gone(timeout):
            self.send(signal.SIGKILL)
            self.gone(5)

    def gone(self, timeout: float) -> bool:
        """Whether it exits within `timeout`; then its exit status is collected if it is this process's child."""
        deadline = time.monotonic() + timeout
        while self.alive():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self.pid, os.WNOHANG)
        return True


def spawn(argv: list[str], log: Path, *, tied: bool) -> Process:
    """Start a detached process (its own session: it outlives `cluster.py start`). `tied`: the kernel kills
    it when the calling thread ends (setpriv --pdeathsig), for a test session that might die uncleanly."""
    if tied and shutil.which("setpriv"):
        argv = [shutil.which("setpriv"), "--pdeathsig", "KILL", "--", *argv]
    with open(log, "ab") as out:
        child = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    for _ in range(100):  # /proc may lag the fork for an instant
        started = process_start_time(child.pid)
        if started:
            return Process(child.pid, started)
        time.sleep(0.01)
    raise RuntimeError(f"{argv[0]} exited at once; see {log}")


@dataclasses.dataclass
class Node:
    name: str
    root: str
    port: int
    galera_port: int
    ist_port: int
    sst_port: int
    check_port: int
    process: Process | None = None

    @property
    def dir(self) -> Path:
        return Path(self.root) / self.name

    @property
    def datadir(self) -> Path:
        return self.dir / "data"

    @property
    def socket(self) -> Path:
        return self.dir / "mariadbd.sock"

    @property
    def config(self) -> Path:
        return self.dir / "my.cnf"

    @property
    def log(self) -> Path:
        return self.dir / "mariadbd.log"

    @property
    def dsn(self) -> str:
        return f"mysql://root@127.0.0.1:{self.port}"

    def connect(self, **kwargs):
        import MySQLdb

        return MySQLdb.connect(unix_socket=str(self.socket), user="root", connect_timeout=2, **kwargs)

    def wsrep_status(self) -> dict[str, str]:
        """This node's wsrep status variables (without the prefix); {} when it does not answer."""
        import MySQLdb

        try:
            connection = self.connect()
        except MySQLdb.Error:
            return {}
        try:
            cursor = connection.cursor()
            cursor.execute("SHOW GLOBAL STATUS LIKE 'wsrep\\_%'")
            return {name.removeprefix("wsrep_"): value for name, value in cursor.fetchall()}
        finally:
            connection.close()

    def synced(self) -> bool:
        status = self.wsrep_status()
        return status.get("local_state_comment") == "Synced" and status.get("ready") == "ON"

    def write_config(self, cluster_address: str) -> None:
        user = "user = root\n" if os.geteuid() == 0 else ""
        self.config.write_text(
            f"""[mariadbd]
{user}datadir = {self.datadir}
socket = {self.socket}
port = {self.port}
bind-address = 127.0.0.1
pid-file = {self.dir / "mariadbd.pid"}
log-error = {self.log}
skip-name-resolve
character-set-server = utf8mb4
collation-server = utf8mb4_unicode_ci
max-connections = 300
innodb-buffer-pool-size = 96M
innodb-log-file-size = 48M
innodb-file-per-table = 0
innodb-lock-wait-timeout = 10
# Galera's durability is the other nodes: a commit is acknowledged once certified cluster-wide, and a
# crashed node is refilled by IST from its recovered position. A throwaway cluster: spare the fsync.
innodb-flush-log-at-trx-commit = 2
# What Galera requires: row-based write sets, and interleaved auto-increment locks (the table-level
# AUTO-INC lock of modes 0 and 1 would deadlock the applier threads).
binlog-format = ROW
default-storage-engine = InnoDB
innodb-autoinc-lock-mode = 2
wsrep-on = ON
wsrep-provider = {GALERA_PROVIDER}
wsrep-cluster-name = {CLUSTER_NAME}
wsrep-cluster-address = {cluster_address}
wsrep-node-name = {self.name}
wsrep-node-address = 127.0.0.1:{self.galera_port}
wsrep-node-incoming-address = 127.0.0.1:{self.port}
wsrep-provider-options = "gmcast.listen_addr=tcp://127.0.0.1:{self.galera_port};ist.recv_addr=127.0.0.1:{self.ist_port};gcache.size=256M"
wsrep-sst-method = mariabackup
wsrep-sst-receive-address = 127.0.0.1:{self.sst_port}
wsrep-sst-auth = {SST_USER}:{SST_PASSWORD}
wsrep-slave-threads = 2

[sst]
sst-log-archive-dir = {self.dir / "sst-log-archive"}
"""
        )

    def mariadbd(self, *extra: str) -> list[str]:
        return [find_binary("mariadbd"), f"--defaults-file={self.config}", *extra]

    def recovered_position(self) -> str | None:
        """The last committed position (uuid:seqno) of a node that crashed, from `mariadbd --wsrep-recover`."""
        log = self.dir / "wsrep-recover.log"
        log.unlink(missing_ok=True)
        subprocess.run(self.mariadbd("--wsrep-recover", f"--log-error={log}"), check=False, capture_output=True)
        found = re.findall(r"WSREP: Recovered position: (\S+:-?\d+)", log.read_text() if log.exists() else "")
        return found[-1] if found else None


def read_grastate(node: Node) -> dict[str, str]:
    path = node.datadir / "grastate.dat"
    if not path.exists():
        return {}
    return dict(
        (key.strip(), value.strip())
        for key, _, value in (line.partition(":") for line in path.read_text().splitlines())
        if value and not key.startswith("#")
    )


def write_grastate(node: Node, **changes: str) -> None:
    """Change fields of grastate.dat in place (the file Galera reads its position and bootstrap flag from)."""
    path = node.datadir / "grastate.dat"
    lines = path.read_text().splitlines()
    for index, line in enumerate(lines):
        key = line.partition(":")[0].strip()
        if key in changes:
            lines[index] = f"{key}:    {changes.pop(key)}"
    path.write_text("\n".join(lines + [f"{key}:    {value}" for key, value in changes.items()]) + "\n")


@dataclasses.dataclass
class Cluster:
    root: str
    nodes: list[Node]
    proxy_port: int
    balance: str = "roundrobin"
    tied: bool = False
    proxy: Process | None = None
    probe: Process | None = None

    # The state file ---------------------------------------------------------------------------------

    @classmethod
    def load(cls, root: Path | str = DEFAULT_ROOT) -> "Cluster":
        data = json.loads((Path(root) / STATE_FILE).read_text())
        data["nodes"] = [
            Node(**{**node, "process": Process(**node["process"]) if node["process"] else None})
            for node in data["nodes"]
        ]
        for name in ("proxy", "probe"):
            data[name] = Process(**data[name]) if data[name] else None
        return cls(**data)

    def save(self) -> None:
        path = Path(self.root) / STATE_FILE
        path.with_suffix(".tmp").write_text(json.dumps(dataclasses.asdict(self), indent=2))
        path.with_suffix(".tmp").replace(path)

    def node(self, name: str) -> Node:
        for node in self.nodes:
            if node.name == name:
                return node
        raise SystemExit(f"cluster: no node {name!r} (nodes: {', '.join(n.name for n in self.nodes)})")

    @property
    def dsn(self) -> str:
        """Through haproxy: what the app's DATABASE_URL points at."""
        return f"mysql://root@127.0.0.1:{self.proxy_port}"

    # Starting ---------------------------------------------------------------------------------------

    @classmethod
    def create(cls, root: Path | str = DEFAULT_ROOT, *, balance: str = "roundrobin", tied: bool = False) -> "Cluster":
        root = Path(root).resolve()
        if (root / STATE_FILE).exists():
            previous = cls.load(root)
            if previous.running():
                raise SystemExit(f"cluster: already running in {root} (cluster.py stop --dir {root})")
        elif root.exists() and any(root.iterdir()):
            raise SystemExit(f"cluster: {root} is not empty and holds no cluster: it is not wiped")
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        nodes = [Node(name, str(root), *(free_port() for _ in range(5))) for name in NODE_NAMES]
        cluster = cls(str(root), nodes, free_port(), balance=balance, tied=tied)
        address = "gcomm://" + ",".join(f"127.0.0.1:{node.galera_port}" for node in nodes)
        for node in nodes:
            node.datadir.mkdir(parents=True)
            node.write_config(address)
        cluster.save()
        return cluster

    @classmethod
    def start(cls, root: Path | str = DEFAULT_ROOT, **options) -> "Cluster":
        """Start a new cluster in `root` (wiped first) and return once every node is Synced and the proxy up."""
        cluster = cls.create(root, **options)
        try:
            cluster.bootstrap()
            for node in cluster.nodes[1:]:
                cluster.start_node(node)
            for node in cluster.nodes[1:]:
                cluster.wait_synced(node)
            cluster.start_proxy()
        except BaseException:
            cluster.stop()
            raise
        return cluster

    def bootstrap(self) -> None:
        first = self.nodes[0]
        install = [find_binary("mariadb-install-db"), f"--defaults-file={first.config}"]
        install += ["--auth-root-authentication-method=normal", "--skip-test-db"]
        subprocess.run(install, check=True, capture_output=True)
        self.start_node(first, "--wsrep-new-cluster")
        self.wait_synced(first)
        connection = first.connect()
        cursor = connection.cursor()
        # root over TCP (the app's DSNs), and the SST donor's user with what mariabackup needs.
        for statement in (
            "CREATE USER IF NOT EXISTS 'root'@'127.0.0.1'",
            "GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION",
            f"CREATE USER '{SST_USER}'@'localhost' IDENTIFIED BY '{SST_PASSWORD}'",
            f"GRANT RELOAD, PROCESS, LOCK TABLES, BINLOG MONITOR, SLAVE MONITOR ON *.* TO '{SST_USER}'@'localhost'",
        ):
            cursor.execute(statement)
        connection.close()

    def start_node(self, node: Node, *extra: str) -> None:
        node.process = spawn(node.mariadbd(*extra), node.dir / "stdout.log", tied=self.tied)
        self.save()

    def wait_synced(self, node: Node, timeout: float = 180) -> float:
        return wait_until(
            node.synced,
            f"cluster: {node.name} not Synced; see {node.log}",
            timeout=timeout,
            alive=lambda: node.process is not None and node.process.alive(),
        )

    def start_proxy(self) -> None:
        self.probe = spawn(
            [sys.executable, str(Path(__file__).resolve()), "--dir", self.root, "probe"],
            Path(self.root) / "probe.log",
            tied=self.tied,
        )
        self.save()
        self.wait_checks()
        config = Path(self.root) / "haproxy.cfg"
        servers = "\n".join(
            f"    server {node.name} 127.0.0.1:{node.port} check port {node.check_port}" for node in self.nodes
        )
        config.write_text(
            f"""global
    maxconn 2000

defaults
    mode tcp
    timeout connect 2s
    timeout client 1h
    timeout server 1h
    timeout check 1s

listen galera
    bind 127.0.0.1:{self.proxy_port}
    balance {self.balance}
    option httpchk GET /
    http-check expect status 200
    # A node that stops being Synced gets no new connections within ~1 s, and its open ones are cut: a
    # session on a node that left the primary component would only get 1047 anyway.
    default-server inter 500ms fall 2 rise 2 on-marked-down shutdown-sessions
{servers}
"""
        )
        self.proxy = spawn(
            [find_binary("haproxy"), "-db", "-f", str(config)], Path(self.root) / "haproxy.log", tied=self.tied
        )
        self.save()
        self.wait_proxy()

    def wait_checks(self, timeout: float = 30) -> None:
        """Until the probe answers 200 for every node: haproxy starts with its servers up, so it must not
        start before the checks that would mark them down can pass."""
        import urllib.request

        for node in self.nodes:
            wait_until(
                answers(
                    lambda url=f"http://127.0.0.1:{node.check_port}/": urllib.request.urlopen(url, timeout=2), OSError
                ),
                f"cluster: the probe does not pass {node.name}; see {self.root}/probe.log",
                timeout=timeout,
                alive=self.probe.alive,
            )

    def wait_proxy(self, timeout: float = 30) -> None:
        """Until a query through haproxy answers (its first health checks have marked the nodes up)."""
        import MySQLdb

        wait_until(
            answers(
                lambda: MySQLdb.connect(host="127.0.0.1", port=self.proxy_port, user="root", connect_timeout=2),
                MySQLdb.Error,
            ),
            f"cluster: haproxy does not answer; see {self.root}/haproxy.log",
            timeout=timeout,
            alive=self.proxy.alive,
        )

    # Faults and recovery ----------------------------------------------------------------------------

    def kill(self, name: str) -> None:
        """kill -9 a node's mariadbd, as a crash would."""
        node = self.node(name)
        if node.process:
            node.process.end(signal.SIGKILL)
        self.save()

    def restart(self, name: str) -> float:
        """Start a node again (after `kill`, or a clean stop) and wait until it is Synced; the seconds taken."""
        node = self.node(name)
        if node.process and node.process.alive():
            node.process.end()
        started = time.monotonic()
        # Bootstrap only when no other node runs at all: one that runs, even outside a primary component,
        # forms one again with the nodes coming back (pc.recovery), and a second bootstrap would split the cluster.
        others_up = any(other.process and other.process.alive() for other in self.nodes if other is not node)
        state = read_grastate(node)
        extra = []
        if state.get("seqno") == "-1":
            # A crash leaves seqno -1 (unknown). Without the real position the node could only rejoin by
            # a full SST; with it, IST sends just the write sets it missed.
            position = node.recovered_position()
            if position:
                uuid, seqno = position.rsplit(":", 1)
                write_grastate(node, uuid=uuid, seqno=seqno)
        if not others_up:
            # Nothing to join: this node's data starts a new cluster. Galera refuses unless marked safe,
            # since a node other than the last one to leave could be behind (choose the most advanced).
            write_grastate(node, safe_to_bootstrap="1")
            extra.append("--wsrep-new-cluster")
        self.start_node(node, *extra)
        self.wait_synced(node)
        return time.monotonic() - started

    # Stopping ---------------------------------------------------------------------------------------

    def running(self) -> bool:
        return any(p and p.alive() for p in [self.proxy, self.probe, *(n.process for n in self.nodes)])

    def stop(self) -> None:
        """End everything this cluster started, proxy first, then the nodes (their data stays in root)."""
        for process in (self.proxy, self.probe):
            if process:
                process.end()
        for node in self.nodes:
            if node.process:
                node.process.send(signal.SIGTERM)
        for node in self.nodes:
            if node.process:
                node.process.end()
                node.process = None
        self.proxy = self.probe = None
        self.save()

    def describe(self) -> str:
        lines = [f"proxy   {self.dsn}   ({self.balance}, {'up' if self.proxy and self.proxy.alive() else 'down'})"]
        for node in self.nodes:
            status = node.wsrep_status()
            state = f"{status.get('local_state_comment', 'down')}, ready={status.get('ready', '-')}"
            lines.append(f"{node.name}   {node.dsn}   ({state}, cluster size {status.get('cluster_size', '-')})")
        return "\n".join(lines)


# The clustercheck probe: GET on a node's check port is 200 while it is Synced and ready, else 503.


def serve_probe(cluster: Cluster) -> None:
    def handler_for(node: Node):
        class Check(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                ready = node.synced()
                self.send_response(200 if ready else 503)
                self.end_headers()
                self.wfile.write(b"synced\n" if ready else b"not synced\n")

            def log_message(self, *args):
                pass

        return Check

    servers = [http.server.ThreadingHTTPServer(("127.0.0.1", n.check_port), handler_for(n)) for n in cluster.nodes]
    threads = [threading.Thread(target=server.serve_forever, daemon=True) for server in servers]
    for thread in threads:
        thread.start()
    signal.sigwait({signal.SIGTERM, signal.SIGINT})


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", type=Path, default=DEFAULT_ROOT, help=f"the cluster's directory ({DEFAULT_ROOT})")
    commands = parser.add_subparsers(dest="command", required=True)
    start = commands.add_parser("start", help="start a new cluster (wipes --dir) and the proxy")
    start.add_argument("--balance", choices=("roundrobin", "first"), default="roundrobin")
    commands.add_parser("stop", help="stop everything the cluster started")
    commands.add_parser("status", help="each node's wsrep state")
    for name, text in (("kill", "kill -9 a node's mariadbd"), ("restart", "start a node again, wait until Synced")):
        commands.add_parser(name, help=text).add_argument("node", choices=NODE_NAMES)
    commands.add_parser("probe", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.command == "start":
        started = time.monotonic()
        cluster = Cluster.start(args.dir, balance=args.balance)
        print(f"Cluster started in {time.monotonic() - started:.1f} s; state in {Path(cluster.root) / STATE_FILE}")
        print(cluster.describe())
        return 0
    if not (args.dir / STATE_FILE).exists():
        raise SystemExit(f"cluster: no cluster in {args.dir} (cluster.py start --dir {args.dir})")
    cluster = Cluster.load(args.dir)
    if args.command == "probe":
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
        serve_probe(cluster)
    elif args.command == "stop":
        cluster.stop()
    elif args.command == "status":
        print(cluster.describe())
        return 0 if all(node.synced() for node in cluster.nodes) else 1
    elif args.command == "kill":
        cluster.kill(args.node)
    elif args.command == "restart":
        print(f"{args.node} Synced after {cluster.restart(args.node):.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
