"""`make run`'s path: migrate and seed an embedded SQLite file, serve, answer a real request."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fetch(url: str, body: dict | None = None, token: str | None = None) -> dict:
    request = urllib.request.Request(url, data=json.dumps(body).encode() if body else None)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def test_migrate_seed_and_serve_on_sqlite(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(SQLITE_PATH=str(tmp_path / "db.sqlite3"), DEBUG="1")
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "--no-input"], env=env, check=True, capture_output=True)
    seeded = subprocess.run([*manage, "seed_demo"], env=env, check=True, capture_output=True, text=True)
    assert "alice" in seeded.stdout and "alice-demo-pass" in seeded.stdout

    port = free_port()
    server = subprocess.Popen(
        [*manage, "runserver", f"127.0.0.1:{port}", "--noreload"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                assert fetch(f"{base}/healthz") == {"status": "ok"}
                break
            except OSError:
                assert time.monotonic() < deadline, "the development server did not start"
                time.sleep(0.3)
        tokens = fetch(f"{base}/api/v4/auth/token", {"username": "alice", "password": "alice-demo-pass"})
        assets = fetch(f"{base}/api/v4/assets", token=tokens["access"])
    finally:
        server.terminate()
        server.wait(timeout=10)

    diamonds = next(a for a in assets["assets"] if a["asset_code"] == "DIAMOND")
    assert diamonds["available_amount"] == 1000
