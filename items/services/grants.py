"""Items created: granted one by one by issuers and operators, imported in bulk (the migration), and undone."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, transaction

from core.authority import require_permission
from core.db import atomic_with_retry, bulk_insert
from core.locks import backpack_versions_bump
from core.models import EventType
from core.money import face_value_error
from core.services import event_record
from items.exceptions import InvalidItem, ItemNotFound
from items.locks import items_lock
from items.models import IMPORT_SOURCES, ItemEventType, ItemInstance, ItemInstanceEvent, ItemStatus, ItemType
from items.services.transitions import event_data, history_event
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


def item_meta_error(meta: dict | None) -> str | None:
    """Why an item's meta breaks the rule of a field with a meaning, or None. `value` is a face value in minor
    units (core.money.face_value_error): what a merchant is settled for, so never a string, a fraction, a
    negative or an amount no column holds."""
    if meta and meta.get("value") is not None:  # null: no face value, as when it is left out
        return face_value_error(meta["value"])
    return None


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
    if source in IMPORT_SOURCES:
        raise InvalidItem(f"The source {source!r} is the migration's own.", source=source)
    error = item_meta_error(meta)
    if error:
        raise InvalidItem(error, meta_value=repr((meta or {}).get("value"))[:100])
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
                history_event(
                    item, ItemEventType.GRANTED, None, business_ref=f"{source}:{source_ref}", actor_id=actor.pk
                )
                event_record(
                    event_type=EventType.ITEM_GRANTED,
                    data=event_data(item, merchant_code=item.merchant_code, source=source, source_ref=source_ref),
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


@atomic_with_retry
def items_import(*, source: str, items: Sequence[ImportedItem]) -> dict[str, int]:
    """Create many items at once, each once per (source, source_ref); returns {source_ref: item id}.

    For bulk work (the legacy migration): refs already imported are left as they are.
    Locked items cannot be imported: nothing would hold their lock.
    """
    if source not in IMPORT_SOURCES:
        raise InvalidItem(f"{source!r} is not an import's source (items.models.IMPORT_SOURCES).", source=source)
    for item in items:
        if item.item_type not in ItemType.values or item.status not in ItemStatus.values:
            raise InvalidItem("Unknown item type or status.", source_ref=item.source_ref)
        if item.status == ItemStatus.LOCKED:
            raise InvalidItem("An imported item cannot be locked.", source_ref=item.source_ref)
        if error := item_meta_error(item.meta):
            raise InvalidItem(error, source_ref=item.source_ref)
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
