"""Operators' corrections of the books: a drifted balance recalculated from the journal, an audited adjustment."""

from django.utils import timezone

from core.authority import require_permission
from core.db import atomic_with_retry
from core.errors import InvalidInput
from core.locks import backpack_versions_bump
from ledger.exceptions import IdempotencyConflict
from ledger.models import AuditAction, Balance, BalanceAudit
from ledger.posting import store
from ledger.selectors import journal_sums
from ledger.services.transfers import balance_change


def _require_reason(reason: str) -> None:
    if not (reason or "").strip():
        raise InvalidInput("A reason is required for every correction.")


@atomic_with_retry
def balance_recalculate(*, actor, account_id: int, asset_code: str, reason: str) -> BalanceAudit:
    """Set a drifted balance row to the sum of its journal legs, under the row lock, and audit it.

    The journal is the truth; the row is a cache of it. No legs can be posted for this
    balance meanwhile, because posting takes the same row lock.
    """
    require_permission(actor, "ledger.recalculate_balance")
    _require_reason(reason)
    owners = store.owners_read({account_id}, None)
    backpack_versions_bump(user_ids=owners.values())
    balance = store.balances_locked({(account_id, asset_code)}, owners)[(account_id, asset_code)]
    journal = journal_sums(account_id=account_id, asset_code=asset_code)
    before = (balance.available_amount, balance.frozen_amount)
    Balance.objects.filter(pk=balance.pk).update(
        available_amount=journal["available"], frozen_amount=journal["frozen"], updated_at=timezone.now()
    )
    return BalanceAudit.objects.create(
        action=AuditAction.RECALCULATE,
        operator=actor.get_username(),
        actor=actor,
        reason=reason,
        account_id=account_id,
        asset_id=asset_code,
        available_before=before[0],
        frozen_before=before[1],
        available_after=journal["available"],
        frozen_after=journal["frozen"],
    )


@atomic_with_retry
def balance_adjust(*, actor, user_id: int, asset_code: str, delta: int, reason: str, key: str) -> BalanceAudit:
    """A business correction: a balanced entry between the user and SYSTEM_ADJUSTMENT, audited.

    Once per `key`: a rerun with the same key returns the first correction's audit and changes nothing.
    """
    require_permission(actor, "ledger.adjust_balance")
    _require_reason(reason)
    if not (key or "").strip():
        raise InvalidInput("A key is required, so that a rerun cannot correct twice.")
    result = balance_change(
        user_id=user_id,
        asset_code=asset_code,
        delta=delta,
        business_type="adjustment",
        business_id=key,
        meta={"reason": reason, "operator": actor.get_username()},
        actor_id=actor.pk,
    )
    if not result.created:
        audit = BalanceAudit.objects.filter(entry=result.entry).first()
        if audit is None:  # the key of an entry that is no correction (a grant made before grants had their own)
            raise IdempotencyConflict(business_type="adjustment", business_id=key)
        return audit
    leg = result.entry.legs.get(account__user_id=user_id)
    return BalanceAudit.objects.create(
        action=AuditAction.ADJUST,
        operator=actor.get_username(),
        actor=actor,
        reason=reason,
        account_id=leg.account_id,
        asset_id=asset_code,
        available_before=leg.available_after - leg.delta_available,
        frozen_before=leg.frozen_after,
        available_after=leg.available_after,
        frozen_after=leg.frozen_after,
        entry=result.entry,
    )
