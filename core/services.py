"""Writes of the core: issuer API keys (created and rotated; revoking is a flag set in the admin), and the
records of writes done under an Idempotency-Key."""

import hashlib
from datetime import datetime
from typing import NamedTuple

from django.db import IntegrityError, transaction

from core.db import in_batches
from core.errors import IdempotencyKeyReused
from core.locks import issuer_key_lock
from core.models import IdempotencyRecord, IssuerKey


def issuer_key_create(*, issuer_id: int, name: str) -> tuple[IssuerKey, str]:
    """A new key for an issuer account; the plain key is returned this once and never stored."""
    return IssuerKey.objects.create_key(issuer_id=issuer_id, name=name)


@transaction.atomic
def issuer_key_rotate(*, key_id: str) -> tuple[IssuerKey, str]:
    """Replace a key: a new one with the same issuer, name and expiry; the old one is revoked at once."""
    old = issuer_key_lock(key_id=key_id)
    new, plain = IssuerKey.objects.create_key(issuer_id=old.issuer_id, name=old.name, expiry_date=old.expiry_date)
    old.revoked = True
    old.save(update_fields=["revoked"])
    return new, plain


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
    IdempotencyKeyReused. The claimed record gets its response from `idempotency_complete`, in the same
    transaction.
    """
    fields = {"caller_id": caller_id, "key_digest": hashlib.sha256(key.encode()).hexdigest()}
    try:
        with transaction.atomic():
            record = IdempotencyRecord.objects.create(
                **fields, method=method, path=path[:255], request_digest=request_digest, status=0, response_body=""
            )
        return Claim(record, claimed=True)
    except IntegrityError:
        earlier = IdempotencyRecord.objects.get(**fields)
    if earlier.request_digest != request_digest:
        raise IdempotencyKeyReused(method=earlier.method, path=earlier.path)
    return Claim(earlier, claimed=False)


def idempotency_complete(*, record_id: int, status: int, response_body: str) -> None:
    """The response of a claimed write: what retries with its key will be answered."""
    IdempotencyRecord.objects.filter(pk=record_id).update(status=status, response_body=response_body)
