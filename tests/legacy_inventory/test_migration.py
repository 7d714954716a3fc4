import json
import re
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from items.models import ItemInstance
from items.services import item_lock
from ledger import selectors as ledger_selectors
from ledger.models import AssetType
from ledger.reconciliation import ledger_discrepancies
from legacy_inventory import services
from legacy_inventory.models import LegacyInventory, MigrationRecord, Outcome
from legacy_inventory.reconciliation import reconcile
from redemption.models import RedemptionOrder
from tests.factories import LegacyInventoryFactory, OperatorFactory, UserFactory

pytestmark = pytest.mark.django_db

NOW = timezone.now().replace(microsecond=0)
CODES = ["A1B2C3D4", "0F0F0F0F", "DEADBEEF"]


def legacy(user, name, **fields):
    return LegacyInventoryFactory(
        user_id=user.pk,
        name=name,
        created_at=NOW - timedelta(days=30),
        updated_at=NOW - timedelta(days=29),
        **fields,
    )


@pytest.fixture
def dataset(alice, bob):
    staff = UserFactory()
    rows = [
        legacy(alice, "红色碎片", item_type="material"),
        legacy(alice, "红色碎片", item_type="material"),
        legacy(alice, "红色碎片", item_type="material", status="used"),
        legacy(alice, "蓝水晶", item_type=None, type="product"),
        legacy(bob, "钻石", item_type="material"),
        legacy(bob, "绿色碎片", status="expired"),
        legacy(bob, "紫色碎片", item_type="material"),  # maps to nothing
        legacy(alice, "¥20代金券", description="满100可用", value=2000, icon="🎟", expires_at=NOW + timedelta(days=9)),
        legacy(
            alice,
            "免费饮料券",
            status="used",
            verification_code=CODES[0],
            operator_id=staff.pk,
            used_at=NOW - timedelta(days=2),
        ),
        legacy(
            alice,
            "甜品券",
            status="pending",
            verification_code=CODES[1],
            verification_expires_at=NOW + timedelta(hours=3),
        ),
        legacy(bob, "VIP 座位卡", type="service", status="expired", description=None, value=None, icon=None),
        legacy(bob, "定制餐具", type="product", status="transferred"),
        legacy(bob, "神秘包裹", type=None),  # fits nowhere
        LegacyInventoryFactory(
            user_id=10**9,
            name="¥50代金券",
            type="voucher",
            status="available",
            created_at=NOW,
            updated_at=NOW,
            verification_code=CODES[2],
        ),  # owner gone
    ]
    return rows


def balances(user):
    return {b["asset_code"]: b["available_amount"] for b in ledger_selectors.balances_for_user(user_id=user.pk)}


def state():
    """What the migration produced, independent of ids and rounds."""
    return {
        "records": sorted(MigrationRecord.objects.values_list("inventory_id", "outcome")),
        "items": sorted(
            ItemInstance.objects.filter(source="migration").values_list("source_ref", "owner_id", "status")
        ),
        "balances": sorted(
            (b["asset_code"], user, b["available_amount"])
            for user in MigrationRecord.objects.values_list("user_id", flat=True).distinct()
            for b in ledger_selectors.balances_for_user(user_id=user)
        ),
    }


def test_each_row_lands_in_its_place(dataset, alice, bob):
    call_command("migrate_inventory", batch_size=5, verbosity=0)

    outcomes = dict(MigrationRecord.objects.values_list("inventory_id", "outcome"))
    assert [outcomes[row.inventory_id] for row in dataset] == [
        "migrated_asset",
        "migrated_asset",
        "skipped_consumed_material",
        "migrated_asset",
        "migrated_asset",
        "skipped_consumed_material",
        "unmapped",
        "migrated_item",
        "migrated_item",
        "migrated_item",
        "migrated_item",
        "migrated_item",
        "failed",
        "failed",
    ]
    assert balances(alice) == {"red_shard": 2, "blue_crystal": 1}
    assert balances(bob) == {"DIAMOND": 1}
    voucher = ItemInstance.objects.get(source="migration", source_ref=str(dataset[7].inventory_id))
    assert (voucher.owner, voucher.name, voucher.status, voucher.expires_at) == (
        alice,
        "¥20代金券",
        "available",
        NOW + timedelta(days=9),
    )
    assert (voucher.meta["description"], voucher.meta["value"], voucher.meta["icon"]) == ("满100可用", 2000, "🎟")
    assert voucher.meta["legacy"]["inventory_id"] == dataset[7].inventory_id
    statuses = dict(ItemInstance.objects.filter(source="migration").values_list("name", "status"))
    assert statuses == {
        "¥20代金券": "available",
        "免费饮料券": "used",
        "甜品券": "available",
        "VIP 座位卡": "expired",
        "定制餐具": "transferred",
    }
    card = ItemInstance.objects.get(name="VIP 座位卡")
    assert card.meta["description"] is None and card.meta["value"] is None
    reasons = dict(MigrationRecord.objects.values_list("inventory_id", "reason"))
    assert "紫色碎片" in reasons[dataset[6].inventory_id]
    assert "does not exist" in reasons[dataset[13].inventory_id]
    assert reasons[dataset[9].inventory_id] == "pending code voided"
    assert ledger_discrepancies() == []


def test_no_legacy_code_survives_anywhere(dataset):
    call_command("migrate_inventory", verbosity=0)

    tables = [
        "item_instances",
        "item_instance_events",
        "legacy_inventory_migration_records",
        "asset_journal_entries",
        "asset_transactions",
    ]
    with connection.cursor() as cursor:
        for table in tables:
            columns = [c.name for c in connection.introspection.get_table_description(cursor, table)]
            cursor.execute(f"SELECT {', '.join(columns)} FROM {table}")
            text = repr(cursor.fetchall())
            for code in CODES:
                assert code not in text and code.lower() not in text, f"{code} found in {table}"


def test_a_used_row_with_a_code_keeps_a_fulfilled_order_no_code_can_reach(dataset, alice):
    call_command("migrate_inventory", verbosity=0)

    used = dataset[8]
    record = MigrationRecord.objects.get(inventory_id=used.inventory_id)
    order = RedemptionOrder.objects.get(order_id=record.redemption_order_id)
    assert (order.status, order.customer, order.redeemer_id, order.fulfilled_at) == (
        "fulfilled",
        alice,
        used.operator_id,
        used.used_at,
    )
    assert order.item_instance_id == record.item_instance_id
    assert not re.fullmatch("[0-9a-f]{64}", order.code_hash)  # what every real code hashes to
    assert RedemptionOrder.objects.count() == 1  # the pending code was voided, not carried over


def test_rerun_changes_nothing(dataset):
    call_command("migrate_inventory", verbosity=0)
    before = state()

    call_command("migrate_inventory", verbosity=0)

    assert state() == before


def test_dry_run_writes_nothing_and_reports_the_same(dataset, tmp_path):
    call_command("migrate_inventory", dry_run=True, report=str(tmp_path / "dry.json"), verbosity=0)

    assert MigrationRecord.objects.count() == 0
    assert ItemInstance.objects.count() == 0
    assert ledger_discrepancies() == []
    call_command("migrate_inventory", report=str(tmp_path / "real.json"), verbosity=0)
    dry, real = ((tmp_path / f"{n}.json").read_text() for n in ("dry", "real"))
    assert json.loads(dry)["outcomes"] == json.loads(real)["outcomes"]
    assert json.loads(dry)["unmigrated"] == json.loads(real)["unmigrated"]


def test_interrupted_run_then_rerun_equals_a_clean_run(dataset, monkeypatch):
    calls = {"n": 0}
    real_import = services._import_items

    def crash_on_third_batch(rows, plans):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt  # what Ctrl-C does mid-batch; not caught by the row-by-row retry
        return real_import(rows, plans)

    monkeypatch.setattr(services, "_import_items", crash_on_third_batch)
    with pytest.raises(KeyboardInterrupt):
        call_command("migrate_inventory", batch_size=3, verbosity=0)
    assert 0 < MigrationRecord.objects.count() < len(dataset)
    monkeypatch.undo()
    call_command("migrate_inventory", batch_size=3, verbosity=0)
    resumed = state()

    call_command("rollback_inventory_migration", yes=True, verbosity=0)
    call_command("migrate_inventory", verbosity=0)

    assert state() == resumed
    assert ledger_discrepancies() == []


def test_unmapped_names_migrate_after_the_catalog_learns_them(dataset, bob):
    call_command("migrate_inventory", verbosity=0)
    AssetType.objects.filter(pk="blue_shard").update(legacy_names=["蓝色碎片", "紫色碎片"])

    call_command("migrate_inventory", verbosity=0)

    assert MigrationRecord.objects.get(inventory_id=dataset[6].inventory_id).outcome == Outcome.MIGRATED_ASSET
    assert balances(bob)["blue_shard"] == 1


def test_reconciliation_passes_on_a_clean_migration(alice, bob):
    legacy(alice, "红色碎片", item_type="material")
    legacy(bob, "¥20代金券")
    legacy(bob, "免费饮料券", status="used", verification_code=CODES[0], used_at=NOW)
    call_command("migrate_inventory", verbosity=0)

    assert [r["check"] for r in reconcile() if not r["passed"]] == []
    call_command("reconcile_inventory_migration", verbosity=0)


@pytest.mark.parametrize("empty", ["", "   "])
def test_a_used_row_with_an_empty_code_is_one_without_a_code_on_both_sides(alice, bob, empty):
    legacy(bob, "免费饮料券", status="used", verification_code=empty, used_at=NOW)
    legacy(bob, "免费饮料券", status="used", verification_code=None, used_at=NOW)
    legacy(alice, "免费饮料券", status="used", verification_code=CODES[0], used_at=NOW)

    call_command("migrate_inventory", verbosity=0)

    assert RedemptionOrder.objects.count() == 1  # the row with a real code only
    history = next(r for r in reconcile() if r["check"] == "redemption history orders")
    assert history["passed"], history
    call_command("reconcile_inventory_migration", verbosity=0)  # exit 0: retirement may go ahead


@pytest.mark.parametrize(
    ("plant", "failing_check"),
    [
        (
            "DELETE FROM item_instance_events WHERE item_id = {item}; DELETE FROM item_instances WHERE id = {item}",
            "item count per user",
        ),
        (
            "UPDATE account_asset_balances SET available_amount = available_amount + 1 WHERE asset_code = 'red_shard'"
            " AND account_id = (SELECT id FROM accounts WHERE user_id = {alice})",
            "ledger invariants",
        ),
        (
            "DELETE FROM legacy_inventory_migration_records WHERE item_instance_id = {item}",
            "every legacy row has a record",
        ),
    ],
    ids=["deleted item", "altered balance", "row without record"],
)
def test_reconciliation_catches_a_planted_difference_and_retire_refuses(alice, bob, plant, failing_check):
    legacy(alice, "红色碎片", item_type="material")
    legacy(bob, "¥20代金券")
    call_command("migrate_inventory", verbosity=0)
    item = ItemInstance.objects.get(source="migration").pk
    with connection.cursor() as cursor:
        for statement in plant.format(item=item, alice=alice.pk).split("; "):
            cursor.execute(statement)

    failing = [r["check"] for r in reconcile() if not r["passed"]]
    assert failing_check in failing
    with pytest.raises(SystemExit) as exit_status:
        call_command("reconcile_inventory_migration", verbosity=0)
    assert exit_status.value.code == 1
    with pytest.raises(CommandError, match=failing_check):
        call_command("retire_user_inventory", operator=OperatorFactory().username)
    assert services.legacy_table_exists()


def test_rollback_restores_balances_and_items(dataset, alice, bob):
    before = (balances(alice), balances(bob), ItemInstance.objects.count())
    call_command("migrate_inventory", verbosity=0)

    call_command("rollback_inventory_migration", yes=True, verbosity=0)

    assert (balances(alice), balances(bob), ItemInstance.objects.count()) == before
    assert MigrationRecord.objects.count() == 0
    assert not RedemptionOrder.objects.exists()
    assert LegacyInventory.objects.count() == len(dataset)
    assert ledger_discrepancies() == []


def test_rollback_keeps_what_users_changed_since(alice):
    legacy(alice, "¥20代金券")
    legacy(alice, "甜品券")
    call_command("migrate_inventory", verbosity=0)
    touched = ItemInstance.objects.get(name="¥20代金券")
    item_lock(item_id=touched.pk, locked_by="market:1")

    call_command("rollback_inventory_migration", yes=True, verbosity=0)

    assert list(ItemInstance.objects.values_list("name", flat=True)) == ["¥20代金券"]
    assert MigrationRecord.objects.get().item_instance_id == touched.pk


@pytest.mark.parametrize(
    "column", ["journal_entry_id", "item_instance_id"], ids=["credit without its entry", "item without its instance"]
)
def test_database_refuses_a_migrated_record_that_points_nowhere(dataset, column):
    call_command("migrate_inventory", verbosity=0)
    record = MigrationRecord.objects.exclude(**{f"{column}__isnull": True}).first()

    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"UPDATE legacy_inventory_migration_records SET {column} = NULL WHERE id = %s", [record.pk])
