"""The "merchant staff" group: just what verifying codes in the admin needs."""

from django.db import migrations

GROUP = "merchant staff"
APP_LABEL = "redemption"
MODEL = "codeverification"
CODENAME = "verify_code"


def create_group(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    # Permissions are normally created after all migrations; this one is needed now.
    content_type, _ = ContentType.objects.get_or_create(app_label=APP_LABEL, model=MODEL)
    permission, _ = Permission.objects.get_or_create(
        content_type=content_type, codename=CODENAME, defaults={"name": "Can verify and fulfil redemption codes"}
    )
    group, _ = Group.objects.get_or_create(name=GROUP)
    group.permissions.set([permission])


def delete_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name=GROUP).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("redemption", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_group, delete_group)]
