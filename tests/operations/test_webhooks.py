"""Webhook delivery of the outbox's events (SPEC §12), against a real HTTP receiver on 127.0.0.1."""

import contextlib
import json
import socket
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from core.errors import Forbidden
from core.models import EventType, OutboxEvent
from core.services import events_mark_published
from ledger.services import asset_grant
from operations import outbound
from operations.models import Alert, DeliveryStatus, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from operations.signatures import HEADER, signature_header, signature_verify
from operations.webhooks import (
    SEND_THREADS,
    backoff,
    deliveries_claim,
    deliveries_retry_now,
    delivery_body,
    events_fan_out,
    webhooks_deliver,
)
from operations.webhooks import _post as post_to_endpoint
from tests.factories import OperatorFactory, StaffFactory, UserFactory, WebhookEndpointFactory

pytestmark = pytest.mark.django_db

SECRET = "receiver-secret"


class Receiver:
    """Answers each POST with the next scripted status (200 once the script runs out) and keeps what came."""

    def __init__(self):
        self.requests = []
        self.script = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append({"headers": dict(self.headers), "body": body})
                self.send_response(receiver.script.pop(0) if receiver.script else 200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler, bind_and_activate=False)
        self.server.request_queue_size = 64  # POSTs of a batch arrive together
        self.server.server_bind()
        self.server.server_activate()
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def events(self) -> list[dict]:
        return [json.loads(request["body"]) for request in self.requests]


@pytest.fixture
def receiver():
    receiver = Receiver()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()


@pytest.fixture
def endpoint(receiver):
    return WebhookEndpointFactory(url=receiver.url, secret=SECRET, event_types=["*"])


@pytest.fixture
def dead_url():
    """A port nobody listens on: the connection is refused at once."""
    probe = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = probe.server_port
    probe.server_close()
    return f"http://127.0.0.1:{port}/gone"


@pytest.fixture
def grant_event(issuer):
    def grant_event(user, business_id="draw-1"):
        asset_grant(
            actor=issuer,
            user_id=user.pk,
            asset_code="DIAMOND",
            amount=5,
            business_type="lottery_prize",
            business_id=business_id,
        )
        return OutboxEvent.objects.latest("id")

    return grant_event


def test_a_receiver_gets_each_event_once_with_a_valid_signature(receiver, endpoint, user, give_item, grant_event):
    granted = grant_event(user)
    item_event = (give_item(user), OutboxEvent.objects.latest("id"))[1]

    run = webhooks_deliver()

    assert (run.published, run.delivered, run.failed) == (2, 2, 0)
    # Posted by several threads at once: the arrival order is not the event order.
    assert sorted((e["id"], e["type"]) for e in receiver.events()) == [
        (granted.pk, "asset.granted"),
        (item_event.pk, "item.granted"),
    ]
    first = next(event for event in receiver.events() if event["type"] == "asset.granted")
    assert set(first) == {"id", "type", "created_at", "data"}
    assert first["data"]["user_id"] == user.pk and first["data"]["amount"] == 5
    for request in receiver.requests:
        assert request["headers"]["Content-Type"] == "application/json"
        assert signature_verify(secret=SECRET, body=request["body"], header=request["headers"][HEADER])
        assert not signature_verify(secret="another", body=request["body"], header=request["headers"][HEADER])
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {DeliveryStatus.DELIVERED}
    assert webhooks_deliver().delivered == 0  # nothing is sent twice


def test_an_endpoint_gets_only_the_types_it_asked_for(receiver, user, give_item, grant_event):
    WebhookEndpointFactory(url=receiver.url, secret=SECRET, event_types=["item.granted"])
    grant_event(user)
    give_item(user)

    webhooks_deliver()

    assert [e["type"] for e in receiver.events()] == ["item.granted"]


def test_inactive_endpoints_get_nothing(receiver, endpoint, user, grant_event):
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(active=False)
    grant_event(user)

    webhooks_deliver()

    assert receiver.requests == []
    assert not WebhookDelivery.objects.exists()
    assert OutboxEvent.objects.get().published_at is not None


def test_a_receiver_that_fails_twice_gets_the_event_on_the_third_attempt(
    receiver, endpoint, user, settings, grant_event
):
    settings.WEBHOOK_BACKOFF_BASE_SECONDS = 30
    event = grant_event(user)
    receiver.script = [500, 503]
    start = timezone.now()

    webhooks_deliver(now=start)
    webhooks_deliver(now=start + timedelta(seconds=29))  # not due yet
    webhooks_deliver(now=start + timedelta(seconds=31))
    webhooks_deliver(now=start + timedelta(seconds=31 + 59))  # the second wait is 60 s
    webhooks_deliver(now=start + timedelta(seconds=31 + 61))

    assert [e["id"] for e in receiver.events()] == [event.pk] * 3
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempt_count, delivery.last_status_code) == (DeliveryStatus.DELIVERED, 3, 200)
    attempts = list(delivery.attempts.order_by("number").values_list("number", "status_code", "ok", "error"))
    assert attempts == [(1, 500, False, "HTTP 500"), (2, 503, False, "HTTP 503"), (3, 200, True, "")]


def test_a_worker_killed_mid_delivery_leaves_it_to_be_sent_again(receiver, endpoint, user, grant_event):
    event = grant_event(user)
    start = timezone.now()
    events_fan_out(now=start)
    (claimed,) = deliveries_claim(now=start, limit=20)
    post_to_endpoint(claimed.endpoint, delivery_body(claimed.event))  # sent; the worker dies before recording it

    during_lease = webhooks_deliver(now=start + timedelta(seconds=60))
    after_lease = webhooks_deliver(now=start + timedelta(seconds=200))

    assert (during_lease.delivered, after_lease.delivered) == (0, 1)
    assert [e["id"] for e in receiver.events()] == [event.pk, event.pk]  # at least once: the id is the dedupe key
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempt_count) == (DeliveryStatus.DELIVERED, 1)


def test_two_workers_never_claim_the_same_delivery(endpoint, user, grant_event):
    for n in range(5):
        grant_event(user, business_id=f"d{n}")
    now = timezone.now()
    events_fan_out(now=now)

    first = deliveries_claim(now=now, limit=3)
    second = deliveries_claim(now=now, limit=3)
    third = deliveries_claim(now=now, limit=3)

    assert (len(first), len(second), len(third)) == (3, 2, 0)
    assert not {d.pk for d in first} & {d.pk for d in second}


def test_events_fanned_out_twice_make_one_delivery_each(endpoint, user, grant_event):
    event = grant_event(user)
    events_fan_out()
    OutboxEvent.objects.filter(pk=event.pk).update(published_at=None)  # as if a second worker read it meanwhile

    events_fan_out()

    assert WebhookDelivery.objects.count() == 1


def test_backoff_doubles_up_to_its_cap(settings):
    settings.WEBHOOK_BACKOFF_BASE_SECONDS = 30
    settings.WEBHOOK_BACKOFF_MAX_SECONDS = 3600

    waits = [backoff(n).total_seconds() for n in (1, 2, 3, 7, 8, 100)]

    assert waits == [30, 60, 120, 1920, 3600, 3600]


def test_a_dead_endpoint_alerts_once_and_slows_no_write(dead_url, user, settings, grant_event):
    settings.WEBHOOK_ALERT_AFTER_FAILURES = 3
    WebhookEndpointFactory(url=dead_url, secret=SECRET, event_types=["*"])
    now = timezone.now()

    for n in range(5):
        started = time.perf_counter()
        grant_event(user, business_id=f"d{n}")
        assert time.perf_counter() - started < 1  # the write records a row, and sends nothing
        webhooks_deliver(now=now + timedelta(days=n))

    assert WebhookAttempt.objects.filter(ok=False).count() >= 5
    (alert,) = Alert.objects.filter(source="webhook_endpoint")
    assert dead_url in alert.message
    assert alert.details["last_error"] == "unreachable"  # not "refused": that would map the ports behind the URL


def test_a_success_clears_the_alert_so_the_next_outage_alerts_again(receiver, user, settings, grant_event):
    settings.WEBHOOK_ALERT_AFTER_FAILURES = 1
    endpoint = WebhookEndpointFactory(url=receiver.url, secret=SECRET, event_types=["*"])
    receiver.script = [500]
    now = timezone.now()
    grant_event(user, "a")
    webhooks_deliver(now=now)
    webhooks_deliver(now=now + timedelta(hours=1))

    endpoint.refresh_from_db()
    assert (endpoint.consecutive_failures, endpoint.alerted_at) == (0, None)
    receiver.script = [500]
    grant_event(user, "b")
    webhooks_deliver(now=now + timedelta(hours=2))
    assert Alert.objects.filter(source="webhook_endpoint").count() == 2


def test_a_delivery_gives_up_after_the_last_attempt_and_retry_now_revives_it(dead_url, user, settings, grant_event):
    settings.WEBHOOK_MAX_ATTEMPTS = 2
    WebhookEndpointFactory(url=dead_url, secret=SECRET, event_types=["*"])
    grant_event(user)
    now = timezone.now()
    webhooks_deliver(now=now)
    webhooks_deliver(now=now + timedelta(days=1))
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempt_count) == (DeliveryStatus.FAILED, 2)

    with pytest.raises(Forbidden):
        deliveries_retry_now(actor=UserFactory(), delivery_ids=[delivery.pk])
    assert deliveries_retry_now(actor=OperatorFactory(), delivery_ids=[delivery.pk]) == 1

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PENDING and delivery.next_attempt_at <= timezone.now()


def test_a_redirect_is_a_failure(receiver, endpoint, user, grant_event):
    receiver.script = [302]
    grant_event(user)

    run = webhooks_deliver()

    assert (run.delivered, run.failed) == (0, 1)
    assert WebhookDelivery.objects.get().last_status_code == 302


@pytest.mark.parametrize(
    ("header", "body", "age"),
    [
        ("tampered-body", b'{"id": 2}', 0),
        ("too-old", b'{"id": 1}', 301),
        ("no-signature", b'{"id": 1}', 0),
    ],
)
def test_a_signature_is_refused_when_anything_is_off(header, body, age):
    signed_at = int(time.time()) - age
    valid = signature_header(secret=SECRET, body=b'{"id": 1}', timestamp=signed_at)
    given = f"t={signed_at}" if header == "no-signature" else valid

    assert signature_verify(secret=SECRET, body=body, header=given) is False


def test_a_fresh_signature_verifies():
    body = b'{"id": 1}'

    assert signature_verify(
        secret=SECRET, body=body, header=signature_header(secret=SECRET, body=body, timestamp=int(time.time()))
    )


def test_published_marks_only_unpublished_events(user, grant_event):
    event = grant_event(user)
    events_mark_published(event_ids=[event.pk], now=timezone.now())
    first = OutboxEvent.objects.get().published_at

    events_mark_published(event_ids=[event.pk], now=timezone.now() + timedelta(hours=1))

    assert OutboxEvent.objects.get().published_at == first


@pytest.fixture
def admin_client(client):
    client.force_login(StaffFactory(is_superuser=True))
    return client


def test_the_admin_shows_deliveries_with_their_attempts_and_retries_them(
    admin_client, dead_url, user, settings, grant_event
):
    settings.WEBHOOK_MAX_ATTEMPTS = 1
    WebhookEndpointFactory(url=dead_url, secret=SECRET, event_types=[EventType.ASSET_GRANTED])
    grant_event(user)
    webhooks_deliver()
    delivery = WebhookDelivery.objects.get()

    listing = admin_client.get(reverse("admin:operations_webhookdelivery_changelist"))
    page = admin_client.get(reverse("admin:operations_webhookdelivery_change", args=[delivery.pk]))
    retried = admin_client.post(
        reverse("admin:operations_webhookdelivery_changelist"),
        {"action": "retry_now", "_selected_action": [delivery.pk]},
    )

    assert listing.status_code == page.status_code == 200
    assert b"unreachable" in page.content
    assert retried.status_code == 302
    assert WebhookDelivery.objects.get().status == DeliveryStatus.PENDING


def test_an_endpoint_added_without_a_secret_gets_one(admin_client, receiver):
    response = admin_client.post(
        reverse("admin:operations_webhookendpoint_add"),
        {"url": receiver.url, "secret": "", "event_types": '["gift.received"]', "active": "on", "description": ""},
    )

    assert response.status_code == 302, response.content
    assert len(WebhookEndpoint.objects.get().secret) == 64


def test_an_endpoint_with_an_unknown_event_type_is_refused(admin_client, receiver):
    response = admin_client.post(
        reverse("admin:operations_webhookendpoint_add"),
        {"url": receiver.url, "secret": "s", "event_types": '["gift.exploded"]', "active": "on", "description": ""},
    )

    assert response.status_code == 200
    assert not WebhookEndpoint.objects.exists()


class SlowReceiver:
    """A receiver on a raw socket: each connection's request is read, then `answer(connection)` runs in its
    own thread (the test's idea of slow)."""

    def __init__(self, answer):
        self.listener = socket.create_server(("127.0.0.1", 0), backlog=64)
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}/slow"
        self.answer = answer
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self.serve, args=(connection,), daemon=True).start()

    def serve(self, connection):
        with connection:
            connection.settimeout(15)
            request = b""
            while b"\r\n\r\n" not in request:
                request += connection.recv(65536)
            head, _, body = request.partition(b"\r\n\r\n")
            length = int(next(line for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:"))[15:])
            while len(body) < length:
                body += connection.recv(65536)
            with contextlib.suppress(OSError):  # the sender hung up: what the deadline is for
                self.answer(connection)


def trickle(connection):
    """A byte every 0.3 s: each read waits less than any timeout, the whole answer 5.7 s."""
    for byte in b"HTTP/1.1 200 OK\r\n\r\n":
        connection.sendall(bytes([byte]))
        time.sleep(0.3)


@pytest.fixture
def slow_receivers():
    started = []
    yield lambda answer: started.append(SlowReceiver(answer)) or started[-1]
    for receiver in started:
        receiver.listener.close()


def test_a_receiver_trickling_its_answer_is_cut_at_the_deadline(slow_receivers, settings):
    settings.WEBHOOK_TIMEOUT = 1
    slow = slow_receivers(trickle)
    endpoint = WebhookEndpoint(url=slow.url, secret=SECRET)

    started = time.monotonic()
    answer = post_to_endpoint(endpoint, b"{}")

    assert answer == (None, "timed out")
    assert time.monotonic() - started < 1.5


def test_a_trickling_receiver_cannot_keep_a_run_past_its_time_nor_its_deliveries_claimed(
    slow_receivers, user, settings, grant_event
):
    settings.WEBHOOK_TIMEOUT = 1
    WebhookEndpointFactory(url=slow_receivers(trickle).url, secret=SECRET, event_types=["*"])
    for n in range(30):
        grant_event(user, business_id=f"d{n}")

    started = time.monotonic()
    run = webhooks_deliver(max_seconds=2)

    assert time.monotonic() - started < 4  # at most max_seconds, then the POSTs in flight to their deadline
    assert run.delivered == 0 and 1 <= run.failed <= 2  # no answer: the endpoint is left alone for this run
    assert not WebhookDelivery.objects.filter(lease_token__isnull=False).exists()
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {DeliveryStatus.PENDING}


def test_many_trickling_endpoints_cannot_keep_a_run_past_its_time(slow_receivers, user, settings, grant_event):
    """More POSTs due than threads: only as many are started as there are threads, so that when the time is up
    only those are still to finish (a queue of POSTs behind them kept the run a deadline longer per round)."""
    settings.WEBHOOK_TIMEOUT = 1
    for _ in range(12):
        WebhookEndpointFactory(url=slow_receivers(trickle).url, secret=SECRET, event_types=["*"])
    for n in range(2):
        grant_event(user, business_id=f"d{n}")

    started = time.monotonic()
    run = webhooks_deliver(max_seconds=0.5)

    assert time.monotonic() - started < 0.5 + settings.WEBHOOK_TIMEOUT + 0.5
    assert (run.delivered, run.failed) == (0, SEND_THREADS)
    assert not WebhookDelivery.objects.filter(lease_token__isnull=False).exists()
    assert WebhookDelivery.objects.filter(attempt_count=0, status=DeliveryStatus.PENDING).count() == 24 - SEND_THREADS


def test_a_slow_endpoint_does_not_hold_up_the_others(receiver, slow_receivers, user, settings, grant_event):
    settings.WEBHOOK_TIMEOUT = 10
    events = 30
    saw_the_others_done = []

    def answer_when_the_fast_receiver_has_everything(connection):
        deadline = time.monotonic() + 3
        while len(receiver.requests) < events and time.monotonic() < deadline:
            time.sleep(0.02)
        saw_the_others_done.append(len(receiver.requests) >= events)
        connection.sendall(b"HTTP/1.1 204 No Content\r\n\r\n")

    WebhookEndpointFactory(
        url=slow_receivers(answer_when_the_fast_receiver_has_everything).url, secret=SECRET, event_types=["*"]
    )
    WebhookEndpointFactory(url=receiver.url, secret=SECRET, event_types=["*"])
    for n in range(events):
        grant_event(user, business_id=f"d{n}")

    run = webhooks_deliver()

    assert run.delivered == 2 * events
    assert saw_the_others_done[0] is True  # the fast endpoint got all 30 while the slow one still answered


NOT_PUBLIC = [
    "http://127.0.0.1:6379/",
    "http://localhost:8790/metrics",
    "http://[::1]:3306/",
    "http://[::ffff:127.0.0.1]/",
    "http://0.0.0.0:8000/",
    "http://10.0.0.5/hooks",
    "http://192.168.1.1/",
    "http://169.254.169.254/latest/meta-data/",
    "http://100.100.100.200/latest/meta-data/",
    "http://[fd00:ec2::254]/",
]


@pytest.mark.parametrize("url", [*NOT_PUBLIC, "ftp://example.com/hooks", "file:///etc/passwd", "http://[::1"])
def test_an_endpoint_url_that_is_not_public_http_is_refused_when_saved(url, settings):
    settings.WEBHOOK_ALLOWED_PRIVATE_NETWORKS = []

    with pytest.raises(ValidationError) as refused:
        WebhookEndpoint(url=url, secret=SECRET, event_types=["*"]).full_clean()

    assert "url" in refused.value.message_dict


def test_the_admin_refuses_a_loopback_endpoint(admin_client, settings):
    settings.WEBHOOK_ALLOWED_PRIVATE_NETWORKS = []
    response = admin_client.post(
        reverse("admin:operations_webhookendpoint_add"),
        {"url": "http://127.0.0.1:6379/", "secret": "s", "event_types": '["*"]', "active": "on", "description": ""},
    )

    assert response.status_code == 200
    assert "not public" in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_a_public_address_and_an_allowed_private_network_can_be_saved(settings):
    settings.WEBHOOK_ALLOWED_PRIVATE_NETWORKS = ["10.20.0.0/16"]

    WebhookEndpoint(url="https://93.184.216.34/hooks", secret=SECRET, event_types=["*"]).full_clean()
    WebhookEndpoint(url="http://10.20.3.4:8080/hooks", secret=SECRET, event_types=["*"]).full_clean()


def test_an_endpoint_that_became_private_is_refused_when_sent(receiver, endpoint, user, settings, grant_event):
    settings.WEBHOOK_ALLOWED_PRIVATE_NETWORKS = []  # the endpoint was saved while 127.0.0.1 was allowed
    grant_event(user)

    run = webhooks_deliver()

    assert (run.delivered, run.failed, receiver.requests) == (0, 1, [])
    assert WebhookDelivery.objects.get().last_error.startswith("unreachable")


def test_the_address_checked_is_the_address_connected_to(receiver, user, settings, monkeypatch, grant_event):
    """DNS rebinding: a name that resolves to an allowed address when checked and to the receiver's after."""
    settings.WEBHOOK_ALLOWED_PRIVATE_NETWORKS = ["127.0.0.2/32"]
    port = receiver.server.server_port
    answers = iter(["127.0.0.2", "127.0.0.1"] * 5)
    monkeypatch.setattr(
        outbound,
        "resolve",
        lambda host, port, **kwargs: [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), port))],
    )
    WebhookEndpointFactory(url=f"http://rebind.example:{port}/hooks", secret=SECRET, event_types=["*"])
    grant_event(user)

    run = webhooks_deliver()

    assert (run.delivered, receiver.requests) == (0, [])  # sent to 127.0.0.2, where nothing listens
    assert WebhookDelivery.objects.get().last_error == "unreachable"
