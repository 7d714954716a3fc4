from django.db import migrations

from ledger.defaults import ASSET_TYPES, SYSTEM_ACCOUNT_CODES


def seed(apps, schema_editor):
    AssetType = apps.get_model("ledger", "AssetType")
    Account = apps.get_model("ledger", "Account")
    for asset in ASSET_TYPES:
        AssetType.objects.get_or_create(asset_code=asset["asset_code"], defaults=asset)
    for code in SYSTEM_ACCOUNT_CODES:
        Account.objects.get_or_create(system_code=code, defaults={"kind": "system"})


class Migration(migrations.Migration):
    dependencies = [("ledger", "0001_initial")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
