"""Checks that the migration moved every legacy row exactly once (SPEC §6), in aggregate queries."""

from collections import Counter, defaultdict

from django.db.models import Count
from django.db.models.functions import Trim

from core.reconciliation import discrepancy
from items.selectors import imported_items
from ledger.reconciliation import ledger_discrepancies
from ledger.selectors import asset_codes_by_legacy_name, user_net_deltas
from legacy_inventory.models import LegacyInventory, MigrationRecord, Outcome
from legacy_inventory.rules import plan_row
from legacy_inventory.services import CREDIT, ITEM_SOURCE, REVERSAL
from redemption.selectors import history_order_count

SAMPLE = 20


def _result(check: str, problems: list, detail: str) -> dict:
    return _counted(check, len(problems), problems[:SAMPLE], detail)


def _counted(check: str, count: int, sample: list, detail: str) -> dict:
    return {"check": check, "passed": count == 0, "detail": detail, "problems": count, "sample": sample}


def _rows_result(check: str, ids, detail: str, *, expected: str, actual: str) -> dict:
    """A check whose problems are the rows of a query of inventory ids: counted and sampled in the database."""
    sample = [
        discrepancy(check, inventory_id=inventory_id, expected=expected, actual=actual)
        for inventory_id in ids.order_by("inventory_id")[:SAMPLE]
    ]
    return _counted(check, ids.order_by().count(), sample, detail)


def with_code(rows):
    """Rows that had a verification code; an empty or blank one is none, as NULL is (rules.has_code)."""
    return rows.annotate(code=Trim("verification_code")).filter(code__isnull=False).exclude(code="")


def _expected_per_user() -> tuple[Counter, Counter]:
    """What the legacy data says each user should have: item counts and asset credits."""
    asset_codes = asset_codes_by_legacy_name()
    groups = (
        LegacyInventory.objects.values("user_id", "name", "type", "item_type", "status")
        .annotate(rows=Count("inventory_id"))
        .order_by()
    )
    items, credits = Counter(), Counter()
    for group in groups:
        plan = plan_row(
            LegacyInventory(**{k: group[k] for k in ("user_id", "name", "type", "item_type", "status")}), asset_codes
        )
        if plan.outcome == Outcome.MIGRATED_ITEM:
            items[group["user_id"]] += group["rows"]
        elif plan.outcome == Outcome.MIGRATED_ASSET:
            credits[(group["user_id"], plan.asset_code)] += group["rows"]
    return items, credits


def reconcile() -> list[dict]:
    legacy = LegacyInventory.objects.values_list("inventory_id", flat=True)
    records = MigrationRecord.objects.values_list("inventory_id", flat=True)
    results = [
        _rows_result(
            "every legacy row has a record",
            legacy.exclude(inventory_id__in=records),
            f"{legacy.count()} legacy rows",
            expected="a migration record",
            actual="none",
        ),
        _rows_result(
            "every record has its legacy row",
            records.exclude(inventory_id__in=legacy),
            f"{records.count()} records",
            expected="a legacy row",
            actual="none",
        ),
        _rows_result(
            "no unmapped or failed rows",
            records.filter(outcome__in=(Outcome.UNMAPPED, Outcome.FAILED)),
            "extend legacy names in the admin, fix, rerun",
            expected="migrated",
            actual="unmapped or failed",
        ),
    ]

    expected_items, expected_credits = _expected_per_user()
    items = imported_items(source=ITEM_SOURCE)
    actual_items = Counter(owner for _, _, owner in items)
    item_diffs = [
        discrepancy("item count per user", user_id=user, expected=expected_items[user], actual=actual_items[user])
        for user in sorted(expected_items.keys() | actual_items.keys())
        if expected_items[user] != actual_items[user]
    ]
    results.append(_result("item count per user", item_diffs, f"{sum(expected_items.values())} items expected"))

    recorded_items = dict(
        MigrationRecord.objects.filter(outcome=Outcome.MIGRATED_ITEM).values_list("inventory_id", "item_instance_id")
    )
    orphans = [
        discrepancy(
            "no orphan item instances", item_instance_id=pk, expected="a migration record naming it", actual=ref
        )
        for ref, pk, _ in items
        if not ref.isdigit() or recorded_items.get(int(ref)) != pk
    ]
    results.append(_result("no orphan item instances", orphans, f"{len(items)} migrated items"))

    expected_history = (
        with_code(LegacyInventory.objects.all())
        .filter(
            pk__in=MigrationRecord.objects.filter(outcome=Outcome.MIGRATED_ITEM).values("inventory_id"),
            status="used",
        )
        .count()
    )
    recorded_history = MigrationRecord.objects.filter(redemption_order_id__isnull=False).count()
    history = history_order_count()
    history_diffs = (
        [
            discrepancy(
                "redemption history orders",
                expected=expected_history,
                actual={"recorded": recorded_history, "orders": history},
            )
        ]
        if not expected_history == recorded_history == history
        else []
    )
    results.append(
        _result("redemption history orders", history_diffs, f"{expected_history} used codes kept as history")
    )

    actual_credits = user_net_deltas(business_types=[CREDIT, REVERSAL])
    credit_diffs = [
        discrepancy(
            "asset credits per user",
            user_id=user,
            asset_code=code,
            expected=expected_credits[(user, code)],
            actual=actual_credits.get((user, code), 0),
        )
        for user, code in sorted(expected_credits.keys() | actual_credits.keys())
        if expected_credits[(user, code)] != actual_credits.get((user, code), 0)
    ]
    totals = defaultdict(int)
    for (_, code), amount in expected_credits.items():
        totals[code] += amount
    results.append(
        _result(
            "asset credits per user", credit_diffs, ", ".join(f"{c} {n}" for c, n in sorted(totals.items())) or "none"
        )
    )

    ledger = ledger_discrepancies()
    results.append(_result("ledger invariants", ledger, "balances = journal, sums zero, holds = frozen"))
    return results
