"""The ledger's accounts: a user's or a system code's, created on first use; the slots of hot system accounts."""

from collections.abc import Collection

from ledger.exceptions import AccountNotFound
from ledger.models import SLOTTED_SYSTEM_ACCOUNTS, SYSTEM_ACCOUNT_SLOTS, Account, AccountKind, SystemAccount
from ledger.posting import store
from ledger.posting.store import Accounts


def accounts_get(*, user_ids: Collection[int] = (), system_codes: Collection[str] = ()) -> Accounts:
    """The accounts of these users and system codes in one statement, creating the missing ones race-free."""
    user_ids, system_codes = set(user_ids), set(system_codes)
    found = store.accounts_read(user_ids, system_codes)
    if len(found.of_user) < len(user_ids) or len(found.of_system) < len(system_codes):
        Account.objects.bulk_create(
            [Account(kind=AccountKind.USER, user_id=u) for u in sorted(user_ids - found.of_user.keys())]
            + [Account(kind=AccountKind.SYSTEM, system_code=c) for c in sorted(system_codes - found.of_system.keys())],
            ignore_conflicts=True,  # created meanwhile by another transaction, or a user that does not exist
        )
        found = store.accounts_read(user_ids, system_codes)
        if len(found.of_user) < len(user_ids):
            raise AccountNotFound("No such user.", user_ids=sorted(user_ids - found.of_user.keys()))
    return found


def account_get_or_create(*, user_id: int | None = None, system_code: str | None = None) -> Account:
    """The ledger account of a user or a system account, created on first use, race-free."""
    if (user_id is None) == (system_code is None):
        raise ValueError("Give exactly one of user_id and system_code.")
    accounts = accounts_get(user_ids={user_id} - {None}, system_codes={system_code} - {None})
    return Account.objects.get(pk=accounts.of_user[user_id] if user_id is not None else accounts.of_system[system_code])


def system_account_id(code: str) -> int:
    """The account of a system code (one slot of a slotted account: `system_slot_code`)."""
    return accounts_get(system_codes={code}).of_system[code]


def system_slot_code(code: SystemAccount, *, user_id: int) -> str:
    """The slot of a hot system account that a posting for `user_id` uses (ledger.models.SLOTTED_SYSTEM_ACCOUNTS).

    Chosen by the user, not at random: a replay posts to the same account (the entry's fingerprint), and one
    user's postings, which queue on the user's own rows anyway, never wait on each other's slot.
    """
    if code not in SLOTTED_SYSTEM_ACCOUNTS:
        return code
    slot = user_id % SYSTEM_ACCOUNT_SLOTS
    return code if slot == 0 else f"{code}:{slot}"
