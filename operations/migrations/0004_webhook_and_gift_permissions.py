"""Operators configure webhook endpoints, read deliveries, their attempts and the outbox, retry deliveries,
and read gifts (SPEC §10, §12)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

OPERATOR_PERMISSIONS = [
    "operations.add_webhookendpoint",
    "operations.change_webhookendpoint",
    "operations.view_webhookendpoint",
    "operations.view_webhookdelivery",
    "operations.view_webhookattempt",
    "operations.retry_webhookdelivery",
    "core.view_outboxevent",
    "gifts.view_gift",
]


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
        ("operations", "0003_webhooks"),
        ("core", "0002_outbox"),
        ("gifts", "0001_initial"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
