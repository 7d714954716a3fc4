"""The operations records moved from `backpack_site` to `operations`: existing databases keep their rows."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from operations.models import Alert, ReconciliationRun
from tests.factories import AlertFactory, ReconciliationRunFactory

MOVED = ("alert", "reconciliationrun")


def migrate(target):
    executor = MigrationExecutor(connection)
    executor.migrate([("operations", target)])
    ContentType.objects.clear_cache()


def migrate_forward():
    migrate(MigrationExecutor(connection).loader.graph.leaf_nodes("operations")[0][1])


# serialized_rollback: the migrations redo data (roles, content types) that later tests restore from a snapshot.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_database_migrated_before_the_move_keeps_its_rows_and_permissions():
    # Given the database as it was before the move: the ops_* tables with rows, the
    # content types (and so the permissions granted) still under backpack_site.
    ContentType.objects.clear_cache()
    run_type = ContentType.objects.get_for_model(ReconciliationRun)
    view_runs, _ = Permission.objects.get_or_create(
        content_type=run_type, codename="view_reconciliationrun", defaults={"name": "Can view reconciliation run"}
    )
    migrate(None)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO ops_alerts (source, message, details, webhook_status, created_at) VALUES (%s, %s, %s, %s, %s)",
            ["reconciliation", "before the move", "{}", "", timezone.now()],
        )
    ContentType.objects.filter(pk=run_type.pk).update(app_label="backpack_site")
    viewers = Group.objects.create(name="run viewers")
    viewers.permissions.add(view_runs)

    # When it migrates forward
    migrate_forward()

    # Then nothing is lost and the group's permission now names the new app
    assert Alert.objects.get().message == "before the move"
    assert ReconciliationRun.objects.count() == 0
    assert not ContentType.objects.filter(app_label="backpack_site", model__in=MOVED).exists()
    assert viewers.permissions.get().content_type.app_label == "operations"


# serialized_rollback: the migrations redo data (roles, content types) that later tests restore from a snapshot.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_new_database_gets_the_tables():
    migrate(None)
    with connection.schema_editor() as editor:
        editor.delete_model(Alert)
        editor.delete_model(ReconciliationRun)

    migrate_forward()

    AlertFactory(source="test", message="fresh")
    assert ReconciliationRunFactory().status == "running"
