"""An item's moves between statuses and owners: lock, unlock, use, transfer, gift, each one conditional UPDATE.

Each transition is one conditional UPDATE on the expected status (and lock holder):
zero rows updated means somebody else changed the item first, and the caller gets
ItemNotAvailable with the item unchanged. Every transition writes a history event in
the same transaction, and every write bumps the backpack versions of the owners whose
backpack it changes (both owners of a sale or a gift) right after the item rows are
locked or created (the backpack-versions class of core/locks.py).
"""

from django.db.models import Q
from django.utils import timezone

from core.db import atomic_with_retry
from core.locks import backpack_versions_bump
from items.exceptions import ItemNotAvailable, ItemNotFound
from items.locks import item_lock_row, lockable, unexpired
from items.models import ItemEventType, ItemInstance, ItemInstanceEvent, ItemStatus


@atomic_with_retry(savepoint=False)
def item_lock(
    *, item_id: int, locked_by: str, owner_id: int | None = None, actor_id: int | None = None
) -> ItemInstance:
    """available → locked by `locked_by`, if it may be locked (items/locks.py: `lockable`).

    With `owner_id`, another owner's item is as good as missing.
    """
    now = timezone.now()
    return transition(
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
    return transition(
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
    return transition(
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
    return transition(
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
    return transition(
        item_id,
        ItemEventType.GIFTED,
        from_status=ItemStatus.AVAILABLE,
        owner_id=from_owner_id,
        condition=lockable(now=timezone.now(), owner_id=from_owner_id),
        changes={"owner_id": to_owner_id},
        business_ref=business_ref,
        actor_id=from_owner_id,
    )


def transition(
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
    history_event(
        item, event_type, from_status, business_ref=business_ref, actor_id=actor_id, from_owner_id=from_owner_id
    )
    return item


def history_event(item, event_type, from_status, *, business_ref, actor_id, from_owner_id=None) -> None:
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


def event_data(item: ItemInstance, **extra) -> dict:
    return {
        "item_id": item.pk,
        "owner_id": item.owner_id,
        "item_type": item.item_type,
        "name": item.name,
        "expires_at": item.expires_at,
        **extra,
    }
