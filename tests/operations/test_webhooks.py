"""Webhook delivery of the outbox's events (SPEC §12), against a real HTTP receiver on 127.0.0.1."""

import json
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.urls import reverse
from django.utils import timezone

from core.errors import Forbidden
from core.models import EventType, OutboxEvent
from core.services import events_mark_published
from ledger.services import asset_grant
from operations.models import Alert, DeliveryStatus, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from operations.signatures import HEADER, signature_header, signature_verify
from operations.webhooks import _post as post_to_endpoint
from operations.webhooks import (
    backoff,
    deliveries_claim,
    deliveries_retry_now,
    delivery_body,
    events_fan_out,
    webhooks_deliver,
)
from tests.conftest import give_item, issuer_account
from tests.factories import OperatorFactory, StaffFactory, UserFactory

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
    return WebhookEndpoint.objects.create(url=receiver.url, secret=SECRET, event_types=["*"])


@pytest.fixture
def dead_url():
    """A port nobody listens on: the connection is refused at once."""
    probe = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = probe.server_port
    probe.server_close()
    return f"http://127.0.0.1:{port}/gone"


def grant_event(user, business_id="draw-1"):
    asset_grant(
        actor=issuer_account(),
        user_id=user.pk,
        asset_code="DIAMOND",
        amount=5,
        business_type="lottery_prize",
        business_id=business_id,
    )
    return OutboxEvent.objects.latest("id")


def test_a_receiver_gets_each_event_once_with_a_valid_signature(receiver, endpoint, user):
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


def test_an_endpoint_gets_only_the_types_it_asked_for(receiver, user):
    WebhookEndpoint.objects.create(url=receiver.url, secret=SECRET, event_types=["item.granted"])
    grant_event(user)
    give_item(user)

    webhooks_deliver()

    assert [e["type"] for e in receiver.events()] == ["item.granted"]


def test_inactive_endpoints_get_nothing(receiver, endpoint, user):
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(active=False)
    grant_event(user)

    webhooks_deliver()

    assert receiver.requests == []
    assert not WebhookDelivery.objects.exists()
    assert OutboxEvent.objects.get().published_at is not None


def test_a_receiver_that_fails_twice_gets_the_event_on_the_third_attempt(receiver, endpoint, user, settings):
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


def test_a_worker_killed_mid_delivery_leaves_it_to_be_sent_again(receiver, endpoint, user):
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


def test_two_workers_never_claim_the_same_delivery(endpoint, user):
    for n in range(5):
        grant_event(user, business_id=f"d{n}")
    now = timezone.now()
    events_fan_out(now=now)

    first = deliveries_claim(now=now, limit=3)
    second = deliveries_claim(now=now, limit=3)
    third = deliveries_claim(now=now, limit=3)

    assert (len(first), len(second), len(third)) == (3, 2, 0)
    assert not {d.pk for d in first} & {d.pk for d in second}


def test_events_fanned_out_twice_make_one_delivery_each(endpoint, user):
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


def test_a_dead_endpoint_alerts_once_and_slows_no_write(dead_url, user, settings):
    settings.WEBHOOK_ALERT_AFTER_FAILURES = 3
    WebhookEndpoint.objects.create(url=dead_url, secret=SECRET, event_types=["*"])
    now = timezone.now()

    for n in range(5):
        started = time.perf_counter()
        grant_event(user, business_id=f"d{n}")
        assert time.perf_counter() - started < 1  # the write records a row, and sends nothing
        webhooks_deliver(now=now + timedelta(days=n))

    assert WebhookAttempt.objects.filter(ok=False).count() >= 5
    (alert,) = Alert.objects.filter(source="webhook_endpoint")
    assert dead_url in alert.message
    assert "Connection refused" in alert.details["last_error"]


def test_a_success_clears_the_alert_so_the_next_outage_alerts_again(receiver, user, settings):
    settings.WEBHOOK_ALERT_AFTER_FAILURES = 1
    endpoint = WebhookEndpoint.objects.create(url=receiver.url, secret=SECRET, event_types=["*"])
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


def test_a_delivery_gives_up_after_the_last_attempt_and_retry_now_revives_it(dead_url, user, settings):
    settings.WEBHOOK_MAX_ATTEMPTS = 2
    WebhookEndpoint.objects.create(url=dead_url, secret=SECRET, event_types=["*"])
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


def test_a_redirect_is_a_failure(receiver, endpoint, user):
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


def test_published_marks_only_unpublished_events(user):
    event = grant_event(user)
    events_mark_published(event_ids=[event.pk], now=timezone.now())
    first = OutboxEvent.objects.get().published_at

    events_mark_published(event_ids=[event.pk], now=timezone.now() + timedelta(hours=1))

    assert OutboxEvent.objects.get().published_at == first


@pytest.fixture
def admin_client(client):
    client.force_login(StaffFactory(is_superuser=True))
    return client


def test_the_admin_shows_deliveries_with_their_attempts_and_retries_them(admin_client, dead_url, user, settings):
    settings.WEBHOOK_MAX_ATTEMPTS = 1
    WebhookEndpoint.objects.create(url=dead_url, secret=SECRET, event_types=[EventType.ASSET_GRANTED])
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
    assert b"Connection refused" in page.content
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
