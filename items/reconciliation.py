"""Reconciliation of item locks that no known holder kind claims (the holders check their own)."""

from core.reconciliation import discrepancy
from items.locks import HOLDER_KINDS
from items.selectors import items_locked


def item_lock_has_live_holder() -> list[dict]:
    """Locked items whose `locked_by` names none of the holder kinds, so no holder's check would see them."""
    unknown = items_locked()
    for kind in HOLDER_KINDS:
        unknown = unknown.exclude(locked_by__startswith=kind.prefix)
    expected = f"locked_by starting with one of {', '.join(kind.prefix for kind in HOLDER_KINDS)}"
    return [
        discrepancy("item_lock_has_live_holder", item_id=item_id, expected=expected, actual={"locked_by": locked_by})
        for item_id, locked_by in unknown.order_by("pk").values_list("pk", "locked_by")
    ]
