"""Whole-ledger checks used by the tests after concurrent work (aggregate SQL, one pass)."""

from django.db.models import Q, Sum

from ledger.models import Balance, Hold, HoldStatus, JournalLeg


def ledger_problems() -> list[str]:
    problems = []
    for row in Balance.objects.values("asset_id").annotate(total=Sum("available_amount") + Sum("frozen_amount")):
        if row["total"] != 0:
            problems.append(f"asset {row['asset_id']} sums to {row['total']}")
    if (
        Balance.objects.filter(allows_negative=False)
        .filter(Q(available_amount__lt=0) | Q(frozen_amount__lt=0))
        .exists()
    ):
        problems.append("a user balance is negative")
    journal = {
        (r["account_id"], r["asset_id"]): (r["available"], r["frozen"])
        for r in JournalLeg.objects.values("account_id", "asset_id").annotate(
            available=Sum("delta_available"), frozen=Sum("delta_frozen")
        )
    }
    holds = {
        (r["account_id"], r["asset_id"]): r["remaining"]
        for r in Hold.objects.filter(status=HoldStatus.OPEN)
        .values("account_id", "asset_id")
        .annotate(remaining=Sum("remaining"))
    }
    for balance in Balance.objects.all():
        key = (balance.account_id, balance.asset_id)
        if journal.get(key, (0, 0)) != (balance.available_amount, balance.frozen_amount):
            problems.append(
                f"balance {key} is {balance.available_amount}/{balance.frozen_amount}, journal {journal.get(key)}"
            )
        if holds.get(key, 0) != balance.frozen_amount:
            problems.append(f"balance {key} frozen {balance.frozen_amount}, open holds {holds.get(key, 0)}")
    for row in JournalLeg.objects.values("entry_id", "asset_id").annotate(
        net=Sum("delta_available") + Sum("delta_frozen")
    ):
        if row["net"] != 0:
            problems.append(f"entry {row['entry_id']} {row['asset_id']} nets {row['net']}")
    return problems
