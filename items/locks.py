"""Row locks of the items track, who may hold an item's lock, and which items may be locked.

An item locked by someone has `locked_by` "<holder kind>:<reference>". The kinds are
declared here, so holders (redemption, market) and reconciliation spell them one way.
Lock order: core/locks.py.
"""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q

from core.locks import in_lock_order
from items.models import ItemInstance, ItemStatus


@dataclass(frozen=True)
class HolderKind:
    """A kind of lock holder: `MARKET_HOLDER.holder(listing_id)` is "market:<listing id>"."""

    name: str

    @property
    def prefix(self) -> str:
        return f"{self.name}:"

    def holder(self, reference) -> str:
        return f"{self.prefix}{reference}"

    def reference(self, locked_by: str | None) -> str | None:
        """The holder's reference if `locked_by` names a holder of this kind."""
        return locked_by.removeprefix(self.prefix) if locked_by and locked_by.startswith(self.prefix) else None


REDEMPTION_HOLDER = HolderKind("redemption")
MARKET_HOLDER = HolderKind("market")
HOLDER_KINDS = (REDEMPTION_HOLDER, MARKET_HOLDER)


def unexpired(*, now: datetime) -> Q:
    """Not past its expiry (SPEC §2: expiry is absolute, whatever the status row says)."""
    return Q(expires_at__isnull=True) | Q(expires_at__gt=now)


def lockable(*, now: datetime, owner_id: int | None = None) -> Q:
    """What may be locked (SPEC §2): an available item, not past its expiry, the owner's when given."""
    condition = Q(status=ItemStatus.AVAILABLE) & unexpired(now=now)
    return condition & Q(owner_id=owner_id) if owner_id is not None else condition


def item_lock_row(*, item_id: int) -> ItemInstance | None:
    return ItemInstance.objects.select_for_update().filter(pk=item_id).first()


def items_lock_due_for_expiry(*, now: datetime, batch_size: int) -> list[dict]:
    """Up to `batch_size` available items past their expiry, locked: id, owner id, type, name and expiry."""
    due = ItemInstance.objects.filter(status=ItemStatus.AVAILABLE, expires_at__lte=now)
    return list(in_lock_order(due).values("pk", "owner_id", "item_type", "name", "expires_at")[:batch_size])


def items_lock(*, item_ids, source: str, exclude_ids=()) -> dict[int, int]:
    """{item id: owner id} of a source's items among `item_ids` (less `exclude_ids`), locked."""
    items = ItemInstance.objects.filter(source=source, pk__in=item_ids).exclude(pk__in=exclude_ids)
    return dict(in_lock_order(items).values_list("pk", "owner_id"))
