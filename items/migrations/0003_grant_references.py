"""A grant's source reference compares byte for byte (SPEC §8), and its event holds it whole.

`item_instance_events.business_ref` of a grant is "<source>:<source ref>", up to 161 characters: at 128 a
business_id of 121 to 128 characters failed the grant with a database error.
"""

from django.db import migrations, models

from core.db import exact_comparison


class Migration(migrations.Migration):
    dependencies = [("items", "0002_gift_event")]

    operations = [
        migrations.AlterField(
            model_name="iteminstanceevent",
            name="business_ref",
            field=models.CharField(blank=True, max_length=192),
        ),
        exact_comparison("item_instances", "source_ref", "varchar(128)"),
    ]
