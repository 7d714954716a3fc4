"""Delivery of the outbox's events to the webhook endpoints (SPEC §12): fan out, claim, send, record.

Never inside a business transaction: the business writes only add outbox rows (core.services.event_record),
and this runs afterwards, in the Celery task `operations.tasks.deliver_webhooks` or `manage.py
deliver_webhooks`. Each step is its own short transaction, and the HTTP request is made outside any:

1. fan out: each unpublished event becomes a delivery per active endpoint that wants its type (unique per
   event and endpoint, so two workers fanning out at once make one), and the event is marked published;
2. claim: due deliveries are taken with one conditional UPDATE that sets the worker's lease token and moves
   `next_attempt_at` past the batch's worst case (no row locks): another worker's UPDATE finds them not
   due. A worker killed mid-delivery leaves them to fall due again when the lease runs out, so they are
   sent again, not lost: delivery is at least once, and receivers dedupe by the event id;
3. send: a signed JSON POST with one deadline for the whole request (operations/outbound.py, which also
   refuses addresses that are not public), several at once but at most two to one endpoint; any 2xx is a
   success, everything else (redirects too) a failure;
4. record, one transaction per set of POSTs that ended together: the attempts, then each delivery delivered, or due again after an exponential backoff capped at
   WEBHOOK_BACKOFF_MAX_SECONDS, or given up after WEBHOOK_MAX_ATTEMPTS. An endpoint that fails
   WEBHOOK_ALERT_AFTER_FAILURES times in a row alerts once, until it succeeds again. Writes never wait on it.
"""

import json
import logging
import secrets
import time
import uuid
from collections import Counter, defaultdict, deque
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from core.authority import require_permission
from core.db import in_batches
from core.selectors import events_unpublished
from core.services import events_mark_published
from operations import outbound
from operations.alerts import alert_fire
from operations.models import DeliveryStatus, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from operations.signatures import HEADER, signature_header

logger = logging.getLogger(__name__)

FAN_OUT_BATCH = 500
CLAIM_BATCH = 20
SEND_THREADS = 8
PER_ENDPOINT_IN_FLIGHT = 2
LEASE_MARGIN_SECONDS = 30
USER_AGENT = "Backpack-Webhooks/1"


@dataclass
class DeliveryRun:
    """What one run did."""

    published: int = 0
    delivered: int = 0
    failed: int = 0


def webhook_secret_new() -> str:
    return secrets.token_hex(32)


def webhooks_deliver(*, now: datetime | None = None, max_seconds: float | None = None) -> DeliveryRun:
    """Fan out the new events, then send every due delivery until none is due (or `max_seconds` have
    passed: POSTs in flight then finish within WEBHOOK_TIMEOUT, and what was claimed but not sent is released,
    due at once). `now` fixes the clock, for tests; by default it is read at each step.

    One slow endpoint cannot hold up the others: the POSTs run on SEND_THREADS threads, at most
    PER_ENDPOINT_IN_FLIGHT of them to one endpoint, and each is recorded as soon as it ends, so the other
    endpoints' deliveries go on through the free threads (a batch that waited for its slowest POST held them
    all). An endpoint that gives no answer (unreachable, timed out) is left alone for the rest of the run:
    its other deliveries are released, so a dead one costs one deadline per run, not one per delivery.
    """
    run = DeliveryRun(published=events_fan_out(now=now))
    stop_at = None if max_seconds is None else time.monotonic() + max_seconds
    waiting: dict[int, deque[WebhookDelivery]] = defaultdict(deque)  # claimed, not sent yet, per endpoint
    sending: dict[Future, WebhookDelivery] = {}
    silent: set[int] = set()  # endpoints that gave no answer in this run
    more_due = True
    with ThreadPoolExecutor(max_workers=SEND_THREADS) as pool:
        while True:
            in_time = stop_at is None or time.monotonic() < stop_at
            busy = {endpoint_id for endpoint_id, queue in waiting.items() if queue}
            while in_time and more_due and len(busy) < SEND_THREADS:  # work for every thread, if there is any
                claimed = deliveries_claim(now=now or timezone.now(), limit=CLAIM_BATCH, exclude=busy | silent)
                more_due = bool(claimed)
                for delivery in claimed:
                    waiting[delivery.endpoint_id].append(delivery)
                    busy.add(delivery.endpoint_id)
            if in_time:
                in_flight = Counter(delivery.endpoint_id for delivery in sending.values())
                for endpoint_id, queue in waiting.items():
                    # No more than there are threads: a POST submitted is a POST in flight, so that when the
                    # time is up only those are left to finish, and a silent endpoint's next ones are not sent.
                    while queue and in_flight[endpoint_id] < PER_ENDPOINT_IN_FLIGHT and len(sending) < SEND_THREADS:
                        delivery = queue.popleft()
                        sending[pool.submit(_send, delivery, now)] = delivery
                        in_flight[endpoint_id] += 1
            if not sending:
                break
            done, _ = wait(sending, return_when=FIRST_COMPLETED)
            outcomes = [future.result() for future in done]
            for future in done:
                del sending[future]
            _outcomes_handle(outcomes)
            run.delivered += sum(outcome.ok for outcome in outcomes)
            run.failed += sum(not outcome.ok for outcome in outcomes)
            for outcome in outcomes:
                if outcome.status_code is None:
                    silent.add(outcome.delivery.endpoint_id)
                    deliveries_release(waiting.pop(outcome.delivery.endpoint_id, ()), now=now)
                elif not waiting[outcome.delivery.endpoint_id]:
                    more_due = True  # its next deliveries may be due: they were not claimed while it was busy
    deliveries_release([delivery for queue in waiting.values() for delivery in queue], now=now)
    return run


def events_fan_out(*, now: datetime | None = None, batch_size: int = FAN_OUT_BATCH) -> int:
    """Make the deliveries of every unpublished event and mark it published; returns how many events."""
    return in_batches(lambda size: _fan_out_batch(size, now or timezone.now()), batch_size=batch_size)


@transaction.atomic
def _fan_out_batch(batch_size: int, now: datetime) -> int:
    events = events_unpublished(limit=batch_size)
    if not events:
        return 0
    endpoints = list(WebhookEndpoint.objects.filter(active=True))
    WebhookDelivery.objects.bulk_create(
        [
            WebhookDelivery(event_id=event["id"], endpoint=endpoint, next_attempt_at=now)
            for event in events
            for endpoint in endpoints
            if endpoint.wants(event["event_type"])
        ],
        ignore_conflicts=True,  # another worker fanned the same events out first
    )
    events_mark_published(event_ids=[event["id"] for event in events], now=now)
    return len(events)


def deliveries_claim(*, now: datetime, limit: int, exclude: set[int] = frozenset()) -> list[WebhookDelivery]:
    """Take up to `limit` due deliveries of active endpoints (but those in `exclude`) for this worker, with
    their event and endpoint.

    The lease lasts the batch's worst case (every POST, one after the other, timing out) and a margin.
    """
    due = WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
    wanted = due.filter(endpoint__active=True).exclude(endpoint_id__in=exclude)
    ids = list(wanted.order_by("next_attempt_at", "id").values_list("pk", flat=True)[:limit])
    if not ids:
        return []
    token = uuid.uuid4().hex
    lease = timedelta(seconds=settings.WEBHOOK_TIMEOUT * limit + LEASE_MARGIN_SECONDS)
    # The claim is this conditional UPDATE: a row another worker claimed meanwhile is no longer due.
    due.filter(pk__in=ids).update(lease_token=token, next_attempt_at=now + lease, updated_at=now)
    claimed = WebhookDelivery.objects.filter(pk__in=ids, lease_token=token).select_related("event", "endpoint")
    return list(claimed.order_by("next_attempt_at", "id"))


@dataclass(frozen=True)
class Outcome:
    """What one POST of a claimed delivery came to."""

    delivery: WebhookDelivery
    started_at: datetime
    duration_ms: int
    status_code: int | None
    error: str

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def deliveries_release(deliveries, *, now: datetime | None = None) -> None:
    """Give back claimed deliveries that were not sent: due at once, for the next run."""
    deliveries = list(deliveries)
    if deliveries:
        now = now or timezone.now()
        WebhookDelivery.objects.filter(
            pk__in=[delivery.pk for delivery in deliveries],
            lease_token__in={delivery.lease_token for delivery in deliveries},  # not if another worker took it
        ).update(lease_token=None, next_attempt_at=now, updated_at=now)


def _outcomes_handle(outcomes: list[Outcome]) -> None:
    """Record the attempts, then alert for the endpoints that just crossed the threshold."""
    for endpoint, error in _outcomes_record(outcomes):
        alert_fire(
            source="webhook_endpoint",
            message=f"Webhook endpoint {endpoint.url} failed {settings.WEBHOOK_ALERT_AFTER_FAILURES} deliveries in a row.",
            details={"endpoint_id": endpoint.pk, "url": endpoint.url, "last_error": error},
        )


def _send(delivery: WebhookDelivery, now: datetime | None) -> Outcome:
    started_at = now or timezone.now()
    started = time.perf_counter()
    status_code, error = _post(delivery.endpoint, delivery_body(delivery.event))
    duration_ms = round((time.perf_counter() - started) * 1000)
    if not error and not 200 <= status_code < 300:
        error = f"HTTP {status_code}"
    return Outcome(delivery, started_at, duration_ms, status_code, error)


def delivery_body(event) -> bytes:
    """The JSON of an event as receivers get it: {id, type, created_at, data}, the same bytes at every attempt."""
    payload = {"id": event.pk, "type": event.event_type, "created_at": event.created_at, "data": event.data}
    return json.dumps(payload, cls=DjangoJSONEncoder, separators=(",", ":"), ensure_ascii=False).encode()


def _post(endpoint: WebhookEndpoint, body: bytes) -> tuple[int | None, str]:
    """(HTTP status, error text): the status is None when no answer came (unreachable, timed out, refused
    address). A redirect is a failure like any other status: the signed body goes to the configured URL or nowhere."""
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        HEADER: signature_header(secret=endpoint.secret, body=body, timestamp=int(time.time())),
    }
    return outbound.post(endpoint.url, body=body, headers=headers, timeout=settings.WEBHOOK_TIMEOUT)


def backoff(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failure: base * 2^(attempts - 1), at most the cap."""
    seconds = settings.WEBHOOK_BACKOFF_BASE_SECONDS * 2 ** min(attempts - 1, 32)
    return timedelta(seconds=min(seconds, settings.WEBHOOK_BACKOFF_MAX_SECONDS))


@transaction.atomic
def _outcomes_record(outcomes: list[Outcome]) -> list[tuple[WebhookEndpoint, str]]:
    """Store the attempts and their deliveries' new state; return the endpoints (with their last error)
    that just crossed WEBHOOK_ALERT_AFTER_FAILURES failures in a row."""
    WebhookAttempt.objects.bulk_create(
        WebhookAttempt(
            delivery=outcome.delivery,
            number=outcome.delivery.attempt_count + 1,
            started_at=outcome.started_at,
            duration_ms=outcome.duration_ms,
            status_code=outcome.status_code,
            ok=outcome.ok,
            error=outcome.error,
        )
        for outcome in outcomes
    )
    streaks = {}  # endpoint id -> (failures since its last success in this batch, whether it had one)
    for outcome in outcomes:
        _delivery_update(outcome)
        failures, reset = streaks.get(outcome.delivery.endpoint_id, (0, False))
        streaks[outcome.delivery.endpoint_id] = (0, True) if outcome.ok else (failures + 1, reset)
    crossed = []
    for endpoint_id, (failures, reset) in sorted(streaks.items()):
        endpoints = WebhookEndpoint.objects.filter(pk=endpoint_id)
        if reset:  # it answered: a new outage will alert again
            endpoints.update(consecutive_failures=failures, alerted_at=None)
        elif failures:
            endpoints.update(consecutive_failures=F("consecutive_failures") + failures)
        threshold = settings.WEBHOOK_ALERT_AFTER_FAILURES
        if failures and endpoints.filter(alerted_at__isnull=True, consecutive_failures__gte=threshold).update(
            alerted_at=timezone.now()
        ):
            last = next(o for o in reversed(outcomes) if o.delivery.endpoint_id == endpoint_id)
            crossed.append((last.delivery.endpoint, last.error))
    return crossed


def _delivery_update(outcome: Outcome) -> None:
    delivery, number = outcome.delivery, outcome.delivery.attempt_count + 1
    now = outcome.started_at + timedelta(milliseconds=outcome.duration_ms)
    state = {"attempt_count": number, "last_status_code": outcome.status_code, "last_error": outcome.error}
    if outcome.ok:
        state |= {"status": DeliveryStatus.DELIVERED, "delivered_at": now}
    elif number >= settings.WEBHOOK_MAX_ATTEMPTS:
        state |= {"status": DeliveryStatus.FAILED}
        logger.warning("webhook delivery %s gave up after %s attempts: %s", delivery.pk, number, outcome.error)
    else:
        state |= {"next_attempt_at": now + backoff(number)}
    # Only under this worker's lease: if it ran out and another worker claimed the delivery, that one owns it.
    WebhookDelivery.objects.filter(pk=delivery.pk, lease_token=delivery.lease_token).update(
        **state, lease_token=None, updated_at=now
    )


def deliveries_retry_now(*, actor, delivery_ids) -> int:
    """Make pending or given-up deliveries due at once (the admin's "retry now"); returns how many.

    They are sent by the next run of the delivery task (every minute), or at once by `manage.py deliver_webhooks`.
    """
    require_permission(actor, "operations.retry_webhookdelivery")
    now = timezone.now()
    retried = WebhookDelivery.objects.filter(pk__in=delivery_ids).exclude(status=DeliveryStatus.DELIVERED)
    count = retried.update(status=DeliveryStatus.PENDING, next_attempt_at=now, lease_token=None, updated_at=now)
    logger.info("webhook deliveries %s retried now by %s", list(delivery_ids)[:20], actor.get_username())
    return count
