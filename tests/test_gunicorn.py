"""The server as README starts it (gunicorn, reading gunicorn.conf.py): a long URL reaches Django, which answers
it in the JSON envelope (issue 20); gunicorn's own HTML page is left only past its hard maximum, 8190 bytes."""

import http.client
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.test_embedded_sqlite import free_port

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def gunicorn_port():
    port = free_port()
    env = {**os.environ, "DEBUG": "1"}
    gunicorn = Path(sys.executable).parent / "gunicorn"
    server = subprocess.Popen(
        [str(gunicorn), "backpack_site.wsgi", "--workers", "1", "--bind", f"127.0.0.1:{port}", "--no-control-socket"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while get(port, "/api/v4/") is None:
            assert server.poll() is None and time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.2)
        yield port
    finally:
        server.terminate()
        server.wait(timeout=10)


def get(port: int, target: str) -> tuple[int, str, bytes] | None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", target)
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type", ""), response.read()
    except OSError:
        return None
    finally:
        connection.close()


def test_a_long_url_is_answered_by_django_in_the_envelope(gunicorn_port):
    status, content_type, body = get(gunicorn_port, "/api/v4/market/prices/red_shard?pad=" + "x" * 6000)

    assert (status, content_type) == (414, "application/json")
    assert json.loads(body)["error"]["code"] == "uri_too_long"


def test_past_gunicorns_maximum_its_own_414_answers(gunicorn_port):
    status, content_type, _ = get(gunicorn_port, "/api/v4/assets?pad=" + "x" * 9000)

    assert (status, content_type) == (414, "text/html")
