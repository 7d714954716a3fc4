"""Every write to the items track.

Each transition is one conditional UPDATE on the expected status (and lock holder):
zero rows updated means somebody else changed the item first, and the caller gets
ItemNotAvailable with the item unchanged. Every transition writes a history event in
the same transaction, and every write bumps the backpack versions of the owners whose
backpack it changes (both owners of a sale or a gift) right after the item rows are
locked or created (lock class 3 of core/locks.py).
"""

import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from core.authority import require_permission
from core.db import atomic_with_retry, bulk_insert, in_batches
from core.models import EventType
from core.services import Event, backpack_versions_bump, event_record, events_record
from items.exceptions import InvalidItem, ItemNotAvailable, ItemNotFound
from items.locks import (
    HOLDER_KINDS,
    HolderKind,
    item_lock_row,
    items_lock,
    items_lock_due_for_expiry,
    lockable,
    unexpired,
)
from items.models import ItemEventType, ItemInstance, ItemInstanceEvent, ItemStatus, ItemType
from ledger.exceptions import IdempotencyConflict

logger = logging.getLogger(__name__)

GRANT_FIELDS = ("owner_id", "item_type", "name", "meta", "expires_at", "merchant_code")

# How each kind of lock holder ends when its item expires: `close(reference)` closes the holder named by
# the lock as expired and unlocks the item, in the caller's transaction, and returns False when that holder
# no longer holds anything. Registered by the holders' apps (redemption, market) when they load: this app
# cannot import them.
_EXPIRY_CLOSERS: dict[str, Callable[[str], bool]] = {}


def holder_expiry_register(kind: HolderKind, close: Callable[[str], bool]) -> None:
    _EXPIRY_CLOSERS[kind.name] = close


@dataclass(frozen=True)
class ImportedItem:
    """An item brought over from another system, in whatever status it had there."""

    source_ref: str
    owner_id: int
    item_type: str
    name: str
    status: str
    meta: dict
    expires_at: datetime | None = None


@atomic_with_retry
def item_grant(
    *,
    actor,
    owner_id: int,
    item_type: str,
    name: str,
    source: str,
    source_ref: str,
    meta: dict | None = None,
    expires_at: datetime | None = None,
    merchant_code: str | None = None,
) -> tuple[ItemInstance, bool]:
    """Create an item once per (source, source_ref), for an issuer or operator (items.grant_items).

    Returns (item, created). A replay by the same actor returns the same item; the same
    reference with different content, or from another actor, raises IdempotencyConflict.
    """
    require_permission(actor, "items.grant_items")
    if item_type not in ItemType.values:
        raise InvalidItem(f"Unknown item type {item_type!r}.", item_type=item_type)
    if not name or not source or not source_ref:
        raise InvalidItem("name, source and source_ref are required.")
    wanted = {
        "owner_id": owner_id,
        "item_type": item_type,
        "name": name,
        "meta": meta or {},
        "expires_at": expires_at,
        "merchant_code": merchant_code or None,
    }
    existing = ItemInstance.objects.filter(source=source, source_ref=source_ref).first()
    if existing is None:
        try:
            with transaction.atomic():
                item = ItemInstance.objects.create(source=source, source_ref=source_ref, **wanted)
                backpack_versions_bump(user_ids=[owner_id])
                _event(item, ItemEventType.GRANTED, None, business_ref=f"{source}:{source_ref}", actor_id=actor.pk)
                event_record(
                    event_type=EventType.ITEM_GRANTED,
                    data=_event_data(item, merchant_code=item.merchant_code, source=source, source_ref=source_ref),
                )
                return item, True
        except IntegrityError:
            existing = ItemInstance.objects.filter(source=source, source_ref=source_ref).first()
            if existing is None:  # not a duplicate: the owner does not exist
                raise ItemNotFound("No such owner.", owner_id=owner_id) from None
    granted_by = existing.events.filter(event_type=ItemEventType.GRANTED).values_list("actor_id", flat=True).first()
    if granted_by != actor.pk or any(getattr(existing, f) != wanted[f] for f in GRANT_FIELDS):
        raise IdempotencyConflict(source=source, source_ref=source_ref)
    return existing, False


@atomic_with_retry(savepoint=False)
def item_lock(
    *, item_id: int, locked_by: str, owner_id: int | None = None, actor_id: int | None = None
) -> ItemInstance:
    """available → locked by `locked_by`, if it may be locked (items/locks.py: `lockable`).

    With `owner_id`, another owner's item is as good as missing.
    """
    now = timezone.now()
    return _transition(
        item_id,
        ItemEventType.LOCKED,
        from_status=ItemStatus.AVAILABLE,
        owner_id=owner_id,
        condition=lockable(now=now, owner_id=owner_id),
        changes={"status": ItemStatus.LOCKED, "locked_by": locked_by, "locked_at": now},
        business_ref=locked_by,
        actor_id=actor_id,
    )


@atomic_with_retry(savepoint=False)
def item_unlock(*, item_id: int, locked_by: str, actor_id: int | None = None) -> ItemInstance:
    """locked → available, only by the holder of the lock."""
    return _transition(
        item_id,
        ItemEventType.UNLOCKED,
        from_status=ItemStatus.LOCKED,
        condition=Q(locked_by=locked_by),
        changes={"status": ItemStatus.AVAILABLE, "locked_by": None, "locked_at": None},
        business_ref=locked_by,
        actor_id=actor_id,
    )


@atomic_with_retry(savepoint=False)
def item_mark_used(*, item_id: int, locked_by: str, actor_id: int | None = None) -> ItemInstance:
    """locked → used (redeemed), only by the holder of the lock."""
    return _transition(
        item_id,
        ItemEventType.USED,
        from_status=ItemStatus.LOCKED,
        condition=Q(locked_by=locked_by),
        changes={"status": ItemStatus.USED, "locked_by": None, "locked_at": None},
        business_ref=locked_by,
        actor_id=actor_id,
    )


@atomic_with_retry(savepoint=False)
def item_transfer(*, item_id: int, locked_by: str, to_owner_id: int, actor_id: int | None = None) -> ItemInstance:
    """An item locked by a listing becomes available under its buyer, unless it has expired (SPEC §2)."""
    return _transition(
        item_id,
        ItemEventType.TRANSFERRED,
        from_status=ItemStatus.LOCKED,
        condition=Q(locked_by=locked_by) & unexpired(now=timezone.now()),
        changes={"status": ItemStatus.AVAILABLE, "locked_by": None, "locked_at": None, "owner_id": to_owner_id},
        business_ref=locked_by,
        actor_id=actor_id,
    )


@atomic_with_retry(savepoint=False)
def item_gift(*, item_id: int, from_owner_id: int, to_owner_id: int, business_ref: str) -> ItemInstance:
    """An available item changes owner (a gift), if it may be locked (items/locks.py `lockable`): the
    giver's, available, not expired. Another owner's item is as good as missing; a locked one (by an
    order or a listing) is refused. The history keeps a `gift` event with both owners."""
    return _transition(
        item_id,
        ItemEventType.GIFTED,
        from_status=ItemStatus.AVAILABLE,
        owner_id=from_owner_id,
        condition=lockable(now=timezone.now(), owner_id=from_owner_id),
        changes={"owner_id": to_owner_id},
        business_ref=business_ref,
        actor_id=from_owner_id,
    )


@atomic_with_retry
def item_expire(*, item_id: int, actor_id: int | None = None, even_if_not_due: bool = False) -> ItemInstance:
    """available → expired, once its expiry time has passed (or at once, when staff say so)."""
    due = Q() if even_if_not_due else Q(expires_at__lte=timezone.now())
    item = _transition(
        item_id,
        ItemEventType.EXPIRED,
        from_status=ItemStatus.AVAILABLE,
        condition=due,
        changes={"status": ItemStatus.EXPIRED},
        business_ref="expiry" if not even_if_not_due else "expired by staff",
        actor_id=actor_id,
    )
    event_record(event_type=EventType.ITEM_EXPIRED, data=_event_data(item))
    return item


def items_expire(*, batch_size: int = 1000) -> int:
    """Expire every item past its expiry time (SPEC §2). Returns the count.

    Available items go a batch per transaction. A locked one goes in a transaction of its own that first
    closes what holds it (the pending redemption order is expired, the listing ends as expired), which
    unlocks it, then expires it. A lock whose holder is gone or unknown is left to reconciliation.
    """
    return in_batches(_expire_batch, batch_size=batch_size) + _expire_locked(batch_size=batch_size)


def _expire_locked(*, batch_size: int) -> int:
    expired, after = 0, 0
    while True:
        due = ItemInstance.objects.filter(status=ItemStatus.LOCKED, expires_at__lte=timezone.now(), pk__gt=after)
        rows = list(due.order_by("pk").values_list("pk", "locked_by")[:batch_size])
        for item_id, locked_by in rows:
            with contextlib.suppress(ItemNotAvailable):  # changed meanwhile: the next sweep looks again
                expired += _expire_locked_one(item_id, locked_by)
        if len(rows) < batch_size:
            return expired
        after = rows[-1][0]


@atomic_with_retry
def _expire_locked_one(item_id: int, locked_by: str) -> int:
    kind = next((kind for kind in HOLDER_KINDS if kind.reference(locked_by) is not None), None)
    close = _EXPIRY_CLOSERS.get(kind.name) if kind else None
    if close is None:
        logger.warning("expired item %s is locked by %r, which no holder closes", item_id, locked_by)
        return 0
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


@atomic_with_retry
def items_import(*, source: str, items: Sequence[ImportedItem]) -> dict[str, int]:
    """Create many items at once, each once per (source, source_ref); returns {source_ref: item id}.

    For bulk work (the legacy migration): refs already imported are left as they are.
    Locked items cannot be imported: nothing would hold their lock.
    """
    for item in items:
        if item.item_type not in ItemType.values or item.status not in ItemStatus.values:
            raise InvalidItem("Unknown item type or status.", source_ref=item.source_ref)
        if item.status == ItemStatus.LOCKED:
            raise InvalidItem("An imported item cannot be locked.", source_ref=item.source_ref)
    refs = [item.source_ref for item in items]
    existing = set(ItemInstance.objects.filter(source=source, source_ref__in=refs).values_list("source_ref", flat=True))
    new = [item for item in items if item.source_ref not in existing]
    bulk_insert(
        ItemInstance,
        [
            ItemInstance(
                source=source,
                source_ref=item.source_ref,
                owner_id=item.owner_id,
                item_type=item.item_type,
                name=item.name,
                status=item.status,
                meta=item.meta,
                expires_at=item.expires_at,
            )
            for item in new
        ],
    )
    backpack_versions_bump(user_ids=[item.owner_id for item in new])
    ids = dict(ItemInstance.objects.filter(source=source, source_ref__in=refs).values_list("source_ref", "pk"))
    bulk_insert(
        ItemInstanceEvent,
        [
            ItemInstanceEvent(
                item_id=ids[item.source_ref],
                event_type=ItemEventType.IMPORTED,
                to_status=item.status,
                to_owner_id=item.owner_id,
                business_ref=f"{source}:{item.source_ref}",
            )
            for item in new
        ],
    )
    return ids


@atomic_with_retry
def items_remove_imported(*, source: str, item_ids: Sequence[int]) -> tuple[list[int], list[int]]:
    """Delete imported items nobody has touched since (to undo an import); returns (removed, kept).

    An item with any event after its import (locked, used, sold…) is kept.
    """
    touched = set(
        ItemInstanceEvent.objects.filter(item_id__in=item_ids)
        .exclude(event_type=ItemEventType.IMPORTED)
        .values_list("item_id", flat=True)
    )
    owners = items_lock(item_ids=item_ids, source=source, exclude_ids=touched)
    removable = list(owners)
    backpack_versions_bump(user_ids=owners.values())
    ItemInstanceEvent.objects.filter(item_id__in=removable).delete()
    ItemInstance.objects.filter(pk__in=removable).delete()
    return removable, sorted(set(item_ids) - set(removable))


def _transition(
    item_id,
    event_type,
    *,
    from_status: str,
    condition: Q,
    changes: dict,
    business_ref: str,
    actor_id,
    owner_id: int | None = None,
) -> ItemInstance:
    item = item_lock_row(item_id=item_id)
    if item is None or (owner_id is not None and item.owner_id != owner_id):
        raise ItemNotFound(item_id=item_id)
    from_owner_id, now = item.owner_id, timezone.now()
    # The conditional update is the guarantee; the lock above only gives a clear error.
    if not ItemInstance.objects.filter(condition, pk=item_id, status=from_status).update(**changes, updated_at=now):
        expired = item.expires_at is not None and item.expires_at <= now
        if (
            event_type in (ItemEventType.LOCKED, ItemEventType.GIFTED, ItemEventType.TRANSFERRED)
            and item.status == from_status
            and expired
        ):
            raise ItemNotAvailable("The item has expired.", item_id=item_id, status=ItemStatus.EXPIRED)
        raise ItemNotAvailable(item_id=item_id, status=item.status)
    backpack_versions_bump(user_ids=[from_owner_id, changes.get("owner_id")])
    for field, value in {**changes, "updated_at": now}.items():
        setattr(item, field, value)
    _event(item, event_type, from_status, business_ref=business_ref, actor_id=actor_id, from_owner_id=from_owner_id)
    return item


def _event(item, event_type, from_status, *, business_ref, actor_id, from_owner_id=None) -> None:
    ItemInstanceEvent.objects.create(
        item=item,
        event_type=event_type,
        from_status=from_status,
        to_status=item.status,
        from_owner_id=from_owner_id,
        to_owner_id=item.owner_id,
        business_ref=business_ref,
        actor_id=actor_id,
    )


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


def _event_data(item: ItemInstance, **extra) -> dict:
    return {
        "item_id": item.pk,
        "owner_id": item.owner_id,
        "item_type": item.item_type,
        "name": item.name,
        "expires_at": item.expires_at,
        **extra,
    }


def _expiry_event_data(row: dict) -> dict:
    """The data of an item.expired or item.expiring_soon event from a row of values()."""
    names = ("owner_id", "item_type", "name", "expires_at")
    return {"item_id": row["pk"], **{name: row[name] for name in names}}
