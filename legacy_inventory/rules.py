"""Where a legacy row goes (SPEC §6), decided without touching the database."""

from dataclasses import dataclass

from items.services import item_meta_error
from legacy_inventory.models import LegacyInventory, Outcome, Track

MATERIAL_MARKERS = ("碎片", "水晶", "材料")
ITEM_TYPES = ("voucher", "product", "service")
ITEM_STATUS = {
    "available": "available",
    "pending": "available",  # its code is void; the owner asks for a new one in the app
    "used": "used",
    "expired": "expired",
    "transferred": "transferred",
}


@dataclass(frozen=True)
class Plan:
    outcome: Outcome
    track: Track
    reason: str = ""
    asset_code: str | None = None
    item_status: str | None = None
    history_order: bool = False  # a used row with a code: keep a fulfilled order as history


def has_code(row: LegacyInventory) -> bool:
    """Whether the row had a verification code: an empty or all-spaces one is none, as NULL is.

    Reconciliation counts the same rows (legacy_inventory.reconciliation: `with_code`).
    """
    return bool((row.verification_code or "").strip(" "))


def is_material(row: LegacyInventory, asset_codes: dict[str, str]) -> bool:
    """SPEC §6's rule, plus names the catalog knows as an asset's legacy name (钻石 has no marker)."""
    name = row.name.strip()
    return row.item_type == "material" or any(marker in name for marker in MATERIAL_MARKERS) or name in asset_codes


def plan_row(row: LegacyInventory, asset_codes: dict[str, str]) -> Plan:
    """The outcome for one legacy row, given the catalog's {legacy name: asset code}."""
    if is_material(row, asset_codes):
        asset_code = asset_codes.get(row.name.strip())
        if asset_code is None:
            return Plan(Outcome.UNMAPPED, Track.NONE, f"no asset has the legacy name {row.name!r}")
        if row.status != "available":
            return Plan(
                Outcome.SKIPPED_CONSUMED_MATERIAL, Track.NONE, f"material {row.status}: not credited", asset_code
            )
        return Plan(Outcome.MIGRATED_ASSET, Track.ASSETS, asset_code=asset_code)
    if row.type not in ITEM_TYPES:
        return Plan(Outcome.FAILED, Track.NONE, f"unknown item type {row.type!r}")
    if row.status not in ITEM_STATUS:
        return Plan(Outcome.FAILED, Track.NONE, f"unknown status {row.status!r}")
    # The import's own rule (items_import refuses a batch with such a row): reported here, the row left behind.
    if error := item_meta_error(item_meta(row)):
        return Plan(Outcome.FAILED, Track.NONE, f"value {row.value}: {error}")
    reason = "pending code voided" if row.status == "pending" and has_code(row) else ""
    history = row.status == "used" and has_code(row)
    return Plan(Outcome.MIGRATED_ITEM, Track.ITEMS, reason, item_status=ITEM_STATUS[row.status], history_order=history)


def item_meta(row: LegacyInventory) -> dict:
    """Every legacy field worth keeping, minus the code (never carried over)."""
    return {
        "description": row.description,
        "value": row.value,
        "icon": row.icon,
        "legacy": {
            "inventory_id": row.inventory_id,
            "item_type": row.item_type,
            "status": row.status,
            "operator_id": row.operator_id,
            "used_at": row.used_at.isoformat() if row.used_at else None,
            "created_at": row.created_at.isoformat() if row.created_at else None,
            "updated_at": row.updated_at.isoformat() if row.updated_at else None,
        },
    }
