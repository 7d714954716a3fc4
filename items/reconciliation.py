"""Reconciliation of item locks that no known holder kind claims (the holders check their own)."""

from collections.abc import Sequence

from items.selectors import items_locked


def item_locks_of_unknown_holders(*, holder_prefixes: Sequence[str]) -> list[dict]:
    """Locked items whose `locked_by` names none of the holder kinds, so no holder's check would see them."""
    unknown = items_locked()
    for prefix in holder_prefixes:
        unknown = unknown.exclude(locked_by__startswith=prefix)
    return [
        {
            "check": "item_lock_has_live_holder",
            "item_id": item_id,
            "expected": f"locked_by starting with one of {', '.join(holder_prefixes)}",
            "actual": {"locked_by": locked_by},
        }
        for item_id, locked_by in unknown.order_by("pk").values_list("pk", "locked_by")
    ]
