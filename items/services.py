"""Every write to the items track.

Each transition is one conditional UPDATE on the expected status (and lock holder):
zero rows updated means somebody else changed the item first, and the caller gets
ItemNotAvailable with the item unchanged. Every transition writes a history event in
the same transaction.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from core.db import atomic_with_retry, bulk_insert
from items.exceptions import InvalidItem, ItemNotAvailable, ItemNotFound
from items.models import ItemEventType, ItemInstance, ItemInstanceEvent, ItemStatus, ItemType
from ledger.exceptions import IdempotencyConflict

GRANT_FIELDS = ("owner_id", "item_type", "name", "meta", "expires_at", "merchant_code")


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
    owner_id: int,
    item_type: str,
    name: str,
    source: str,
    source_ref: str,
    meta: dict | None = None,
    expires_at: datetime | None = None,
    merchant_code: str | None = None,
    actor_id: int | None = None,
) -> tuple[ItemInstance, bool]:
    """Create an item once per (source, source_ref); a replay returns the same item.

    Returns (item, created). The same reference with different content raises
    IdempotencyConflict.
    """
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
                _event(item, ItemEventType.GRANTED, None, business_ref=f"{source}:{source_ref}", actor_id=actor_id)
                return item, True
        except IntegrityError:
            existing = ItemInstance.objects.filter(source=source, source_ref=source_ref).first()
            if existing is None:  # not a duplicate: the owner does not exist
                raise ItemNotFound("No such owner.", owner_id=owner_id) from None
    if any(getattr(existing, f) != wanted[f] for f in GRANT_FIELDS):
        raise IdempotencyConflict(source=source, source_ref=source_ref)
    return existing, False


@atomic_with_retry
def item_lock(
    *, item_id: int, locked_by: str, owner_id: int | None = None, actor_id: int | None = None
) -> ItemInstance:
    """available → locked by `locked_by`. With `owner_id`, only the owner's item qualifies."""
    conditions = {"owner_id": owner_id} if owner_id is not None else {}
    return _transition(
        item_id,
        ItemEventType.LOCKED,
        expected={"status": ItemStatus.AVAILABLE, **conditions},
        changes={"status": ItemStatus.LOCKED, "locked_by": locked_by, "locked_at": timezone.now()},
        business_ref=locked_by,
        actor_id=actor_id,
    )


@atomic_with_retry
def item_unlock(*, item_id: int, locked_by: str, actor_id: int | None = None) -> ItemInstance:
    """locked → available, only by the holder of the lock."""
    return _transition(
        item_id,
        ItemEventType.UNLOCKED,
        expected={"status": ItemStatus.LOCKED, "locked_by": locked_by},
        changes={"status": ItemStatus.AVAILABLE, "locked_by": None, "locked_at": None},
        business_ref=locked_by,
        actor_id=actor_id,
    )


@atomic_with_retry
def item_mark_used(*, item_id: int, locked_by: str, actor_id: int | None = None) -> ItemInstance:
    """locked → used (redeemed), only by the holder of the lock."""
    return _transition(
        item_id,
        ItemEventType.USED,
        expected={"status": ItemStatus.LOCKED, "locked_by": locked_by},
        changes={"status": ItemStatus.USED, "locked_by": None, "locked_at": None},
        business_ref=locked_by,
        actor_id=actor_id,
    )


@atomic_with_retry
def item_transfer(*, item_id: int, locked_by: str, to_owner_id: int, actor_id: int | None = None) -> ItemInstance:
    """An item locked by a listing becomes available under its buyer."""
    return _transition(
        item_id,
        ItemEventType.TRANSFERRED,
        expected={"status": ItemStatus.LOCKED, "locked_by": locked_by},
        changes={"status": ItemStatus.AVAILABLE, "locked_by": None, "locked_at": None, "owner_id": to_owner_id},
        business_ref=locked_by,
        actor_id=actor_id,
    )


@atomic_with_retry
def item_expire(*, item_id: int, actor_id: int | None = None, even_if_not_due: bool = False) -> ItemInstance:
    """available → expired, once its expiry time has passed (or at once, when staff say so)."""
    due = {} if even_if_not_due else {"expires_at__lte": timezone.now()}
    return _transition(
        item_id,
        ItemEventType.EXPIRED,
        expected={"status": ItemStatus.AVAILABLE, **due},
        changes={"status": ItemStatus.EXPIRED},
        business_ref="expiry" if not even_if_not_due else "expired by staff",
        actor_id=actor_id,
    )


def items_expire(*, batch_size: int = 1000) -> int:
    """Expire every available item past its expiry time, a batch per transaction. Returns the count."""
    total = 0
    while True:
        expired = _expire_batch(batch_size)
        total += expired
        if expired < batch_size:
            return total


@atomic_with_retry
def _expire_batch(batch_size: int) -> int:
    now = timezone.now()
    rows = list(
        ItemInstance.objects.select_for_update()
        .filter(status=ItemStatus.AVAILABLE, expires_at__lte=now)
        .order_by("pk")
        .values_list("pk", "owner_id")[:batch_size]
    )
    if not rows:
        return 0
    ItemInstance.objects.filter(pk__in=[pk for pk, _ in rows]).update(status=ItemStatus.EXPIRED, updated_at=now)
    ItemInstanceEvent.objects.bulk_create(
        ItemInstanceEvent(
            item_id=pk,
            event_type=ItemEventType.EXPIRED,
            from_status=ItemStatus.AVAILABLE,
            to_status=ItemStatus.EXPIRED,
            from_owner_id=owner_id,
            to_owner_id=owner_id,
            business_ref="expiry",
        )
        for pk, owner_id in rows
    )
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
    removable = list(
        ItemInstance.objects.select_for_update()
        .filter(source=source, pk__in=item_ids)
        .exclude(pk__in=touched)
        .values_list("pk", flat=True)
    )
    ItemInstanceEvent.objects.filter(item_id__in=removable).delete()
    ItemInstance.objects.filter(pk__in=removable).delete()
    return removable, sorted(set(item_ids) - set(removable))


def _transition(item_id, event_type, *, expected: dict, changes: dict, business_ref: str, actor_id) -> ItemInstance:
    item = ItemInstance.objects.select_for_update().filter(pk=item_id).first()
    if item is None or expected.get("owner_id", item.owner_id) != item.owner_id:
        raise ItemNotFound(item_id=item_id)
    from_owner_id, now = item.owner_id, timezone.now()
    # The conditional update is the guarantee; the lock above only gives a clear error.
    if not ItemInstance.objects.filter(pk=item_id, **expected).update(**changes, updated_at=now):
        raise ItemNotAvailable(item_id=item_id, status=item.status)
    for field, value in {**changes, "updated_at": now}.items():
        setattr(item, field, value)
    _event(
        item, event_type, expected["status"], business_ref=business_ref, actor_id=actor_id, from_owner_id=from_owner_id
    )
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
