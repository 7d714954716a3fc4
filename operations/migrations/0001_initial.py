"""The operations records moved here from `backpack_site`; their tables (`ops_*`) keep their names and rows.

A database migrated before the move already has the tables (and `backpack_site`'s content
types, which permissions point at): the state is taken over, the content types are renamed,
nothing is copied. A new database gets the tables created.
"""

from django.db import migrations, models

MOVED = ("alert", "reconciliationrun")


def take_over_tables(apps, schema_editor):
    existing = set(schema_editor.connection.introspection.table_names())
    for name in MOVED:
        model = apps.get_model("operations", name)
        if model._meta.db_table not in existing:
            schema_editor.create_model(model)
    ContentType = apps.get_model("contenttypes", "ContentType")
    ContentType.objects.using(schema_editor.connection.alias).filter(app_label="backpack_site", model__in=MOVED).update(
        app_label="operations"
    )


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="Alert",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("source", models.CharField(max_length=64)),
                        ("message", models.TextField()),
                        ("details", models.JSONField(blank=True, default=dict)),
                        ("webhook_status", models.CharField(blank=True, help_text="What the webhook answered, if set.", max_length=200)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                    ],
                    options={
                        "db_table": "ops_alerts",
                        "indexes": [models.Index(fields=["source", "created_at"], name="alert_source_time")],
                    },
                ),
                migrations.CreateModel(
                    name="ReconciliationRun",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("started_at", models.DateTimeField(auto_now_add=True)),
                        ("finished_at", models.DateTimeField(blank=True, null=True)),
                        ("status", models.CharField(choices=[("running", "Running"), ("passed", "Passed"), ("failed", "Discrepancies found"), ("error", "Could not finish")], default="running", max_length=10)),
                        ("checks", models.JSONField(default=dict, help_text="{check: discrepancies found}")),
                        ("discrepancy_count", models.PositiveIntegerField(default=0)),
                        ("discrepancies", models.JSONField(default=list, help_text="The first ones found (capped); the count is exact.")),
                        ("error", models.TextField(blank=True)),
                    ],
                    options={
                        "db_table": "ops_reconciliation_runs",
                        "indexes": [models.Index(fields=["status", "started_at"], name="run_status_time")],
                    },
                ),
            ],
        ),
        # Reversing keeps the tables and their rows: the records outlive a rollback of the code.
        migrations.RunPython(take_over_tables, migrations.RunPython.noop, atomic=False),
    ]
