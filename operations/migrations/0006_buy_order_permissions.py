"""Operators read buy orders and may cancel another user's (SPEC §10, §14), as they delist listings."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

OPERATOR_PERMISSIONS = ["market.view_buyorder", "market.cancel_buy_order"]


def grant(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    operator = Group.objects.get(name="operator")
    for permission in OPERATOR_PERMISSIONS:
        app_label, codename = permission.split(".")
        operator.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    operator = Group.objects.filter(name="operator").first()
    if operator is None:
        return
    for permission in OPERATOR_PERMISSIONS:
        app_label, codename = permission.split(".")
        operator.permissions.remove(*Permission.objects.filter(content_type__app_label=app_label, codename=codename))


class Migration(migrations.Migration):
    dependencies = [
        ("operations", "0005_reconciliation_run_kind"),
        ("market", "0006_buy_orders"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
