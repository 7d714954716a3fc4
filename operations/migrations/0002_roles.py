"""The operator and prize issuer roles (SPEC §10): groups with explicit permissions.

Merchant staff are a group of redemption's (0002); superusers hold every permission.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

ROLES = {
    "prize issuer": ["ledger.grant_assets", "items.grant_items"],
    "operator": [
        "ledger.grant_assets",
        "items.grant_items",
        "ledger.adjust_balance",
        "ledger.recalculate_balance",
        "market.delist_listing",
        "items.change_iteminstance",
        "ledger.view_account",
        "ledger.view_assettype",
        "ledger.view_balance",
        "ledger.view_journalentry",
        "ledger.view_hold",
        "ledger.view_balanceaudit",
        "ledger.view_issuancelimit",
        "items.view_iteminstance",
        "market.view_marketlisting",
        "market.view_markettrade",
        "redemption.view_merchant",
        "redemption.view_redemptionorder",
        "redemption.view_redemptionattempt",
        "legacy_inventory.view_migrationrecord",
        "legacy_inventory.retire_inventory",
        "legacy_inventory.view_retirement",
        "operations.view_reconciliationrun",
        "operations.view_alert",
    ],
}


def create_roles(apps, schema_editor):
    # Permissions are normally created after all migrations; the roles need them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, permissions in ROLES.items():
        group, _ = Group.objects.get_or_create(name=name)
        for permission in permissions:
            app_label, codename = permission.split(".")
            group.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))


def delete_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=ROLES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("operations", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("ledger", "0004_actors_and_issuance_limits"),
        ("items", "0001_initial"),
        ("market", "0003_delist_permission"),
        ("redemption", "0002_merchant_staff_group"),
        ("legacy_inventory", "0002_retirements"),
    ]

    operations = [migrations.RunPython(create_roles, delete_roles)]
