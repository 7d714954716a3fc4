"""Every write to the items track, by sub-domain: transitions, grants and imports, expiry."""

from items.services.expiry import (
    EXPIRING_SOON,
    holder_expiry_register,
    item_expire,
    items_announce_expiring,
    items_expire,
)
from items.services.grants import (
    ImportedItem,
    item_grant,
    item_meta_error,
    items_import,
    items_remove_imported,
)
from items.services.transitions import item_gift, item_lock, item_mark_used, item_transfer, item_unlock

__all__ = [
    "EXPIRING_SOON",
    "ImportedItem",
    "holder_expiry_register",
    "item_expire",
    "item_gift",
    "item_grant",
    "item_lock",
    "item_mark_used",
    "item_meta_error",
    "item_transfer",
    "item_unlock",
    "items_announce_expiring",
    "items_expire",
    "items_import",
    "items_remove_imported",
]
