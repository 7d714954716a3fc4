import pytest

from legacy_inventory.models import LegacyInventory, Outcome, Track
from legacy_inventory.rules import plan_row

ASSET_CODES = {"红色碎片": "red_shard", "红水晶": "red_crystal", "钻石": "DIAMOND"}


def row(**fields):
    return LegacyInventory(**{"user_id": 1, "name": "¥20代金券", "type": "voucher", "status": "available", **fields})


@pytest.mark.parametrize(
    ("fields", "asset_code"),
    [
        ({"name": "红色碎片", "item_type": None, "type": "product"}, "red_shard"),
        ({"name": "红水晶", "item_type": "material"}, "red_crystal"),
        ({"name": "钻石", "item_type": None, "type": None}, "DIAMOND"),
        ({"name": " 钻石 ", "item_type": "material"}, "DIAMOND"),
    ],
)
def test_available_materials_are_credited(fields, asset_code):
    plan = plan_row(row(**fields), ASSET_CODES)

    assert (plan.outcome, plan.track, plan.asset_code) == (Outcome.MIGRATED_ASSET, Track.ASSETS, asset_code)


@pytest.mark.parametrize("status", ["used", "expired", "pending", "transferred"])
def test_consumed_materials_are_recorded_not_credited(status):
    plan = plan_row(row(name="红色碎片", status=status), ASSET_CODES)

    assert (plan.outcome, plan.track) == (Outcome.SKIPPED_CONSUMED_MATERIAL, Track.NONE)


@pytest.mark.parametrize(
    "fields", [{"name": "紫色碎片"}, {"name": "神秘材料"}, {"name": "金币", "item_type": "material"}]
)
def test_unmapped_material_names_are_reported_not_invented(fields):
    plan = plan_row(row(**fields), ASSET_CODES)

    assert (plan.outcome, plan.asset_code) == (Outcome.UNMAPPED, None)
    assert fields["name"] in plan.reason


@pytest.mark.parametrize(
    ("status", "item_status"),
    [
        ("available", "available"),
        ("pending", "available"),
        ("used", "used"),
        ("expired", "expired"),
        ("transferred", "transferred"),
    ],
)
def test_item_status_mapping(status, item_status):
    plan = plan_row(row(status=status), ASSET_CODES)

    assert (plan.outcome, plan.track, plan.item_status) == (Outcome.MIGRATED_ITEM, Track.ITEMS, item_status)


def test_used_row_with_a_code_keeps_order_history_and_pending_code_is_void():
    used = plan_row(row(status="used", verification_code="A1B2C3D4"), ASSET_CODES)
    pending = plan_row(row(status="pending", verification_code="A1B2C3D4"), ASSET_CODES)
    used_without_code = plan_row(row(status="used"), ASSET_CODES)

    assert used.history_order and not used_without_code.history_order
    assert (pending.item_status, pending.history_order, pending.reason) == ("available", False, "pending code voided")


@pytest.mark.parametrize(("fields", "reason"), [({"type": None}, "item type"), ({"status": "lost"}, "status")])
def test_rows_that_fit_nowhere_fail_with_a_reason(fields, reason):
    plan = plan_row(row(**fields), ASSET_CODES)

    assert plan.outcome == Outcome.FAILED
    assert reason in plan.reason


@pytest.mark.parametrize("empty", [None, "", "   "])
def test_an_empty_code_is_no_code(empty):
    used = plan_row(row(status="used", verification_code=empty), ASSET_CODES)
    pending = plan_row(row(status="pending", verification_code=empty), ASSET_CODES)

    assert not used.history_order
    assert pending.reason == ""
