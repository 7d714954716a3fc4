"""Every write to the assets track, by sub-domain; the posting engine itself is `ledger.posting`.

Each service takes its locks (ledger/locks.py, in the order of core/locks.py) before it
reads what it checks, then writes, in one transaction.
"""

from ledger.posting import EntrySpec, HoldChange, Leg, PostResult, entries_post_batch, entry_post
from ledger.posting.store import Accounts
from ledger.services.accounts import account_get_or_create, accounts_get, system_account_id, system_slot_code
from ledger.services.corrections import balance_adjust, balance_recalculate
from ledger.services.grants import asset_grant
from ledger.services.holds import hold_create, hold_release, hold_settle
from ledger.services.transfers import balance_change, transfer

__all__ = [
    "Accounts",
    "EntrySpec",
    "HoldChange",
    "Leg",
    "PostResult",
    "account_get_or_create",
    "accounts_get",
    "asset_grant",
    "balance_adjust",
    "balance_change",
    "balance_recalculate",
    "entries_post_batch",
    "entry_post",
    "hold_create",
    "hold_release",
    "hold_settle",
    "system_account_id",
    "system_slot_code",
    "transfer",
]
