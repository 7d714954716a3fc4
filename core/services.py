"""Writes of the core: issuer API keys (created and rotated; revoking is a flag set in the admin), and the
event outbox (recorded by every app inside its business transaction, published by operations), and the
records of writes done under an Idempotency-Key."""

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

from django.db import IntegrityError, connection

from core.db import atomic_with_retry, bulk_insert, in_batches, insert_one
from core.errors import IdempotencyConflict
from core.locks import issuer_key_lock
from core.models import EventType, IdempotencyRecord, IssuerKey, OutboxEvent


def issuer_key_create(*, issuer_id: int, name: str) -> tuple[IssuerKey, str]:
    """A new key for an issuer account; the plain key is returned this once and never stored."""
    return IssuerKey.objects.create_key(issuer_id=issuer_id, name=name)


@atomic_with_retry
def issuer_key_rotate(*, key_id: str) -> tuple[IssuerKey, str]:
    """Replace a key: a new one with the same issuer, name and expiry; the old one is revoked at once."""
    old = issuer_key_lock(key_id=key_id)
    new, plain = IssuerKey.objects.create_key(issuer_id=old.issuer_id, name=old.name, expiry_date=old.expiry_date)
    old.revoked = True
    old.save(update_fields=["revoked"])
    return new, plain


@dataclass(frozen=True)
class Event:
    """A business event to record: its type (core.models.EventType), its data, and for an event that is
    recorded at most once whoever records it (a sweep that runs twice), a unique `once_key`."""

    event_type: str
    data: dict = field(default_factory=dict)
    once_key: str | None = None


def event_record(*, event_type: str, data: dict) -> OutboxEvent:
    """Write one event to the outbox, in the caller's transaction: it commits or rolls back with the change.

    One INSERT, no network: delivery is operations' periodic work, after the commit.
    """
    return events_record(events=[Event(event_type, data)])[0]


def events_record(*, events: Sequence[Event]) -> list[OutboxEvent]:
    """Write several events in one INSERT, in the caller's transaction.

    Events with a `once_key` already recorded are skipped (and not returned with a primary key).
    """
    if not connection.in_atomic_block:
        raise RuntimeError("Record events inside the transaction of the change they describe.")
    for event in events:
        if event.event_type not in EventType.values:
            raise ValueError(f"Unknown event type {event.event_type!r}: add it to core.models.EventType.")
    rows = [OutboxEvent(event_type=e.event_type, data=e.data, once_key=e.once_key) for e in events]
    if any(e.once_key for e in events):
        # INSERT IGNORE only where a duplicate once_key is expected: elsewhere an error must stay an error.
        return OutboxEvent.objects.bulk_create(rows, ignore_conflicts=True)
    bulk_insert(OutboxEvent, rows)  # every business transaction writes here: no per-row field API
    return rows


def events_mark_published(*, event_ids: Sequence[int], now: datetime) -> int:
    """Mark events as handed to their webhook deliveries (operations' fan-out, in its transaction)."""
    return OutboxEvent.objects.filter(pk__in=event_ids, published_at__isnull=True).update(published_at=now)


def idempotency_records_purge(*, older_than: datetime, batch_size: int = 5000) -> int:
    """Forget the responses of writes made before `older_than`, in batches; returns how many."""

    def batch(size: int) -> int:
        ids = list(
            IdempotencyRecord.objects.filter(created_at__lt=older_than)
            .order_by("pk")
            .values_list("pk", flat=True)[:size]
        )
        IdempotencyRecord.objects.filter(pk__in=ids).delete()
        return len(ids)

    return in_batches(batch, batch_size=batch_size)


class Claim(NamedTuple):
    record: IdempotencyRecord
    claimed: bool  # True: this request does the write; False: `record` is the earlier one's, to replay


def idempotency_claim(*, caller_id: int, key: str, method: str, path: str, request_digest: str) -> Claim:
    """Claim `key` for a write, inside the caller's transaction, or find the earlier write made with it.

    The claim is a unique insert: a concurrent request with the same key waits on the index until the first
    commits (then it finds that one's record and replays it) or rolls back (then its own insert goes
    through). So two identical requests make one write. The same key with another request raises
    IdempotencyConflict. The claimed record gets its response from `idempotency_complete`, in the same
    transaction.
    """
    fields = {"caller_id": caller_id, "key_digest": hashlib.sha256(key.encode()).hexdigest()}
    record = IdempotencyRecord(
        **fields, method=method, path=path[:255], request_digest=request_digest, status=0, response_body=""
    )
    try:
        insert_one(record)  # a failed INSERT undoes only itself (core.db.insert_one, core/checks.py): no savepoint
        return Claim(record, claimed=True)
    except IntegrityError:
        earlier = IdempotencyRecord.objects.get(**fields)
    if earlier.request_digest != request_digest:
        raise IdempotencyConflict(
            "This Idempotency-Key was already used for a different request.", method=earlier.method, path=earlier.path
        )
    return Claim(earlier, claimed=False)


def idempotency_complete(*, record_id: int, status: int, response_body: str) -> None:
    """The response of a claimed write: what retries with its key will be answered."""
    IdempotencyRecord.objects.filter(pk=record_id).update(status=status, response_body=response_body)
