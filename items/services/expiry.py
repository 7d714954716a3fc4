"""Expiry: items past their time expired (closing what holds a locked one), and announced before they expire."""

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from django.db.models import Q
from django.utils import timezone

from core.db import atomic_with_retry, in_batches
from core.locks import backpack_versions_bump
from core.models import EventType
from core.services import Event, event_record, events_record
from core.sweeps import Sweep, after_each_batch
from items.exceptions import ItemNotAvailable
from items.locks import HOLDER_KINDS, HolderKind, items_lock_due_for_expiry
from items.models import ItemEventType, ItemInstance, ItemInstanceEvent, ItemStatus
from items.services.transitions import event_data, transition

logger = logging.getLogger(__name__)

# The registry of how each kind of lock holder (items.locks.HOLDER_KINDS) ends when its item expires:
# `close(reference)` closes the holder named by the lock as expired and unlocks the item, in the caller's
# transaction, and returns False when that holder no longer holds anything. Each holder's app (redemption,
# market) registers its closer in its AppConfig.ready(), as this app cannot import them; the system check
# items.E001 (items/checks.py) refuses to start while a kind has none.
EXPIRY_CLOSERS: dict[str, Callable[[str], bool]] = {}


def holder_expiry_register(kind: HolderKind, close: Callable[[str], bool]) -> None:
    """Register the closer of a holder kind (once: a second, different closer is a mistake)."""
    if kind not in HOLDER_KINDS:
        raise ValueError(f"{kind!r} is not one of items.locks.HOLDER_KINDS.")
    if EXPIRY_CLOSERS.get(kind.name, close) is not close:
        raise ValueError(f"The holder kind {kind.name!r} has a closer already.")
    EXPIRY_CLOSERS[kind.name] = close


def holder_kinds_without_closer() -> list[HolderKind]:
    return [kind for kind in HOLDER_KINDS if kind.name not in EXPIRY_CLOSERS]


@atomic_with_retry
def item_expire(*, item_id: int, actor_id: int | None = None, even_if_not_due: bool = False) -> ItemInstance:
    """available → expired, once its expiry time has passed (or at once, when staff say so)."""
    due = Q() if even_if_not_due else Q(expires_at__lte=timezone.now())
    item = transition(
        item_id,
        ItemEventType.EXPIRED,
        from_status=ItemStatus.AVAILABLE,
        condition=due,
        changes={"status": ItemStatus.EXPIRED},
        business_ref="expiry" if not even_if_not_due else "expired by staff",
        actor_id=actor_id,
    )
    event_record(event_type=EventType.ITEM_EXPIRED, data=event_data(item))
    return item


def items_expire(*, batch_size: int = 1000) -> int:
    """Expire every item past its expiry time (SPEC §2). Returns the count.

    Available items go a batch per transaction. A locked one goes in a transaction of its own that first
    closes what holds it (the pending redemption order is expired, the listing ends as expired), which
    unlocks it, then expires it. A lock whose holder is gone or unknown is left to reconciliation; an item
    whose holder cannot be closed is recorded and skipped, and the run goes on (core.sweeps).
    """
    return in_batches(_expire_batch, batch_size=batch_size) + _expire_locked(batch_size=batch_size)


def _expire_locked(*, batch_size: int) -> int:
    due = ItemInstance.objects.filter(status=ItemStatus.LOCKED, expires_at__lte=timezone.now())

    def expire(item_id: int, locked_by: str) -> int:
        try:
            return _expire_locked_one(item_id, locked_by)
        except ItemNotAvailable:  # changed meanwhile: the next sweep looks again
            return 0

    with Sweep("expire_items") as run:
        return after_each_batch(
            due,
            batch_size=batch_size,
            handle=lambda rows: sum(run.one(i, lambda i=i, by=by: expire(i, by)) for i, by in rows),
            fields=("pk", "locked_by"),
        )


@atomic_with_retry
def _expire_locked_one(item_id: int, locked_by: str) -> int:
    kind = next((kind for kind in HOLDER_KINDS if kind.reference(locked_by) is not None), None)
    if kind is None:
        logger.warning("expired item %s is locked by %r, which no holder closes", item_id, locked_by)
        return 0
    close = EXPIRY_CLOSERS[kind.name]  # every kind has one: items.E001
    if not close(kind.reference(locked_by)):  # the holder's row lock comes first (core/locks.py)
        return 0
    item_expire(item_id=item_id)
    return 1


@atomic_with_retry
def _expire_batch(batch_size: int) -> int:
    now = timezone.now()
    rows = items_lock_due_for_expiry(now=now, batch_size=batch_size)
    if not rows:
        return 0
    backpack_versions_bump(user_ids=[row["owner_id"] for row in rows])
    ItemInstance.objects.filter(pk__in=[row["pk"] for row in rows]).update(status=ItemStatus.EXPIRED, updated_at=now)
    ItemInstanceEvent.objects.bulk_create(
        ItemInstanceEvent(
            item_id=row["pk"],
            event_type=ItemEventType.EXPIRED,
            from_status=ItemStatus.AVAILABLE,
            to_status=ItemStatus.EXPIRED,
            from_owner_id=row["owner_id"],
            to_owner_id=row["owner_id"],
            business_ref="expiry",
        )
        for row in rows
    )
    events_record(events=[Event(EventType.ITEM_EXPIRED, _expiry_event_data(row)) for row in rows])
    return len(rows)


EXPIRING_SOON = timedelta(days=3)


def items_announce_expiring(*, now: datetime | None = None, batch_size: int = 1000) -> int:
    """Record `item.expiring_soon` once per item that expires within EXPIRING_SOON (available or locked).

    Daily and idempotent: each item's event has a once-key, so a second run (or a missed day's catch-up)
    records nothing twice. Returns how many items were looked at.
    """
    now = now or timezone.now()
    last_id = 0

    def batch(size: int) -> int:
        nonlocal last_id
        rows = list(
            ItemInstance.objects.filter(
                status__in=(ItemStatus.AVAILABLE, ItemStatus.LOCKED),
                expires_at__gt=now,
                expires_at__lte=now + EXPIRING_SOON,
                pk__gt=last_id,
            )
            .order_by("pk")
            .values("pk", "owner_id", "item_type", "name", "expires_at")[:size]
        )
        if rows:
            last_id = rows[-1]["pk"]
            # Its own transaction, retried: on a cluster two runs' INSERT IGNOREs of one once-key conflict at COMMIT.
            atomic_with_retry(events_record)(
                events=[
                    Event(
                        EventType.ITEM_EXPIRING_SOON,
                        _expiry_event_data(row),
                        once_key=f"item.expiring_soon:{row['pk']}",
                    )
                    for row in rows
                ]
            )
        return len(rows)

    return in_batches(batch, batch_size=batch_size)


def _expiry_event_data(row: dict) -> dict:
    """The data of an item.expired or item.expiring_soon event from a row of values()."""
    names = ("owner_id", "item_type", "name", "expires_at")
    return {"item_id": row["pk"], **{name: row[name] for name in names}}
