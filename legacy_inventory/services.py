"""The one-time move of `user_inventory` into the two tracks, its rollback and its retirement.

A batch of legacy rows is migrated in one transaction that also writes one record per
row, so a rerun skips what is done and never doubles anything. A batch that fails is
retried row by row: one bad row is recorded as failed and the rest still migrate.
Legacy rows are only ever read.
"""

import logging
import uuid
from collections.abc import Sequence
from datetime import date, timedelta

from django.contrib.auth import get_user_model
from django.db import connection, transaction

from core.authority import require_permission
from core.db import atomic_with_retry, bulk_insert
from items.services import ImportedItem, items_import, items_remove_imported
from ledger.choices import SystemAccount
from ledger.exceptions import InsufficientBalance
from ledger.services import EntrySpec, Leg, accounts_get, entries_post_batch, system_account_id
from legacy_inventory.models import (
    DONE_OUTCOMES,
    LegacyInventory,
    MigrationRecord,
    MigrationRound,
    Outcome,
    Retirement,
    RetirementAction,
    Track,
)
from legacy_inventory.rules import Plan, item_meta, plan_row
from redemption.services import PastRedemption, orders_import_fulfilled, orders_remove_imported

logger = logging.getLogger(__name__)

ITEM_SOURCE = "migration"
CREDIT = "migration"
REVERSAL = "migration_rollback"
DEPRECATED_PREFIX = "_deprecated_user_inventory_"
DROP_AFTER_DAYS = 7


def round_current() -> int:
    """The rehearsal round new records belong to (1 until the first rollback)."""
    number = MigrationRound.objects.order_by("-number").values_list("number", flat=True).first()
    if number is None:
        MigrationRound.objects.get_or_create(number=1)
        return 1
    return number


def inventory_migrate_rows(
    *, rows: Sequence[LegacyInventory], asset_codes: dict[str, str], round_number: int, dry_run: bool = False
) -> list[MigrationRecord]:
    """Migrate rows as one batch; if it fails, row by row. Returns the records (written unless dry_run)."""
    try:
        return _migrate_batch(rows, asset_codes, round_number, dry_run)
    except Exception as error:  # any failure of the batch: find the bad row(s) one by one
        logger.warning(
            "legacy rows %s..%s: the batch failed (%s: %s); retrying row by row",
            rows[0].inventory_id,
            rows[-1].inventory_id,
            type(error).__name__,
            error,
        )
        records = []
        for row in rows:
            try:
                records += _migrate_batch([row], asset_codes, round_number, dry_run)
            except Exception as error:
                records.append(_record_failure(row, f"{type(error).__name__}: {error}", round_number, dry_run))
        return records


@atomic_with_retry
def _migrate_batch(rows, asset_codes, round_number, dry_run) -> list[MigrationRecord]:
    ids = [row.inventory_id for row in rows]
    done = set(
        MigrationRecord.objects.filter(inventory_id__in=ids, outcome__in=DONE_OUTCOMES).values_list(
            "inventory_id", flat=True
        )
    )
    MigrationRecord.objects.filter(inventory_id__in=ids).exclude(outcome__in=DONE_OUTCOMES).delete()
    rows = [row for row in rows if row.inventory_id not in done]
    people = {row.user_id for row in rows} | {row.operator_id for row in rows if row.operator_id}
    users = set(get_user_model().objects.filter(pk__in=people).values_list("pk", flat=True))
    plans = {
        row.inventory_id: plan_row(row, asset_codes)
        if row.user_id in users
        else Plan(Outcome.FAILED, Track.NONE, f"user {row.user_id} does not exist")
        for row in rows
    }
    items = _import_items(rows, plans)
    orders = _import_history(rows, plans, items, users)
    entries = _credit(rows, plans, round_number)  # last: the shared SYSTEM_MIGRATION rows stay locked briefly
    records = [
        MigrationRecord(
            inventory_id=row.inventory_id,
            user_id=row.user_id,
            outcome=plans[row.inventory_id].outcome,
            track=plans[row.inventory_id].track,
            asset_code=plans[row.inventory_id].asset_code,
            journal_entry_id=entries.get(row.inventory_id),
            item_instance_id=items.get(str(row.inventory_id)),
            redemption_order_id=orders.get(row.inventory_id),
            reason=plans[row.inventory_id].reason,
            round=round_number,
        )
        for row in rows
    ]
    bulk_insert(MigrationRecord, records)
    if dry_run:
        transaction.set_rollback(True)
    return records


def _credit(rows, plans, round_number) -> dict[int, int]:
    """+1 of the mapped asset per available material, one entry each from SYSTEM_MIGRATION."""
    credits = [row for row in rows if plans[row.inventory_id].outcome == Outcome.MIGRATED_ASSET]
    if not credits:
        return {}
    accounts = accounts_get(user_ids={row.user_id for row in credits}).of_user
    migration = system_account_id(SystemAccount.MIGRATION)
    results = entries_post_batch(
        entries=[
            EntrySpec(
                business_type=CREDIT,
                business_id=f"r{round_number}:{row.inventory_id}",
                legs=[
                    Leg(
                        account_id=accounts[row.user_id],
                        asset_code=plans[row.inventory_id].asset_code,
                        delta_available=1,
                    ),
                    Leg(account_id=migration, asset_code=plans[row.inventory_id].asset_code, delta_available=-1),
                ],
                meta={"inventory_id": row.inventory_id, "legacy_name": row.name},
            )
            for row in credits
        ]
    )
    return {row.inventory_id: result.entry.pk for row, result in zip(credits, results, strict=True)}


def _import_items(rows, plans) -> dict[str, int]:
    items = [
        ImportedItem(
            source_ref=str(row.inventory_id),
            owner_id=row.user_id,
            item_type=row.type,
            name=row.name,
            status=plans[row.inventory_id].item_status,
            meta=item_meta(row),
            expires_at=row.expires_at,
        )
        for row in rows
        if plans[row.inventory_id].outcome == Outcome.MIGRATED_ITEM
    ]
    return items_import(source=ITEM_SOURCE, items=items) if items else {}


def _import_history(rows, plans, items, users) -> dict[int, uuid.UUID]:
    """A fulfilled order for each used row that had a code: who redeemed it and when, no code."""
    used = [row for row in rows if plans[row.inventory_id].history_order]
    if not used:
        return {}
    orders = orders_import_fulfilled(
        redemptions=[
            PastRedemption(
                item_id=items[str(row.inventory_id)],
                customer_id=row.user_id,
                redeemer_id=row.operator_id if row.operator_id in users else None,
                fulfilled_at=row.used_at or row.updated_at,
            )
            for row in used
        ]
    )
    return {row.inventory_id: orders[items[str(row.inventory_id)]] for row in used}


@atomic_with_retry
def _record_failure(row: LegacyInventory, reason: str, round_number: int, dry_run: bool) -> MigrationRecord:
    MigrationRecord.objects.filter(inventory_id=row.inventory_id).exclude(outcome__in=DONE_OUTCOMES).delete()
    record = MigrationRecord.objects.create(
        inventory_id=row.inventory_id,
        user_id=row.user_id,
        outcome=Outcome.FAILED,
        track=Track.NONE,
        reason=reason[:2000],
        round=round_number,
    )
    if dry_run:
        transaction.set_rollback(True)
    return record


@atomic_with_retry
def inventory_rollback_records(*, records: Sequence[MigrationRecord]) -> list[tuple[int, str]]:
    """Undo what some records did: reverse credits with balancing entries, remove history orders
    and untouched items, delete the records. Returns (inventory id, reason) of the rows that must stay as they are.
    """
    kept = {}
    # Orders and items before the credits: domain rows and backpack versions come before balances (core/locks.py).
    history = [r.redemption_order_id for r in records if r.redemption_order_id]
    if history:
        orders_remove_imported(order_ids=history)
    item_records = {r.item_instance_id: r for r in records if r.outcome == Outcome.MIGRATED_ITEM}
    if item_records:
        _, changed = items_remove_imported(source=ITEM_SOURCE, item_ids=list(item_records))
        for item_id in changed:
            kept[item_records[item_id].inventory_id] = "the item changed after the migration"
    credits = [r for r in records if r.outcome == Outcome.MIGRATED_ASSET]
    if credits:
        kept.update(_reverse_credits(credits))
    MigrationRecord.objects.filter(pk__in=[r.pk for r in records if r.inventory_id not in kept]).delete()
    return sorted(kept.items())


def _reverse_credits(credits: Sequence[MigrationRecord]) -> dict[int, str]:
    accounts = accounts_get(user_ids={r.user_id for r in credits}).of_user
    migration = system_account_id(SystemAccount.MIGRATION)

    def reversal(record):
        return EntrySpec(
            business_type=REVERSAL,
            business_id=f"r{record.round}:{record.inventory_id}",
            legs=[
                Leg(account_id=accounts[record.user_id], asset_code=record.asset_code, delta_available=-1),
                Leg(account_id=migration, asset_code=record.asset_code, delta_available=1),
            ],
            meta={"inventory_id": record.inventory_id, "reverses_entry_id": record.journal_entry_id},
        )

    try:
        with transaction.atomic():
            entries_post_batch(entries=[reversal(r) for r in credits])
        return {}
    except InsufficientBalance:  # somebody spent a credit: reverse the rest, keep theirs
        kept = {}
        for record in credits:
            try:
                with transaction.atomic():
                    entries_post_batch(entries=[reversal(record)])
            except InsufficientBalance:
                kept[record.inventory_id] = f"the user has spent the migrated {record.asset_code}"
        return kept


def round_start_next() -> int:
    number = round_current() + 1
    MigrationRound.objects.create(number=number)
    return number


def legacy_table_exists() -> bool:
    return LegacyInventory._meta.db_table in connection.introspection.table_names()


def inventory_table_retire(*, actor, today: date) -> str:
    """Rename user_inventory to _deprecated_user_inventory_<YYYYMMDD>, recording who; returns the new name."""
    require_permission(actor, "legacy_inventory.retire_inventory")
    new_name = f"{DEPRECATED_PREFIX}{today:%Y%m%d}"
    with connection.schema_editor() as editor:
        editor.alter_db_table(LegacyInventory, LegacyInventory._meta.db_table, new_name)
    Retirement.objects.create(action=RetirementAction.RETIRE, table_name=new_name, actor=actor)
    return new_name


def deprecated_tables(*, today: date) -> list[tuple[str, date, bool]]:
    """(table, retired on, old enough to drop) for every retired legacy table."""
    found = []
    for name in connection.introspection.table_names():
        if name.startswith(DEPRECATED_PREFIX):
            suffix = name.removeprefix(DEPRECATED_PREFIX)
            if len(suffix) == 8 and suffix.isdigit():
                retired = date(int(suffix[:4]), int(suffix[4:6]), int(suffix[6:]))
                found.append((name, retired, today - retired >= timedelta(days=DROP_AFTER_DAYS)))
    return sorted(found)


def deprecated_table_drop(*, actor, name: str, today: date) -> None:
    require_permission(actor, "legacy_inventory.retire_inventory")
    droppable = {table for table, _, old_enough in deprecated_tables(today=today) if old_enough}
    if name not in droppable:
        raise ValueError(f"{name} is not a retired legacy table at least {DROP_AFTER_DAYS} days old.")
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE {connection.ops.quote_name(name)}")
    Retirement.objects.create(action=RetirementAction.DROP, table_name=name, actor=actor)
