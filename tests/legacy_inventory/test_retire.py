"""Retirement renames and drops tables: DDL commits on MariaDB, so these run on committed data."""

from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from legacy_inventory import services
from legacy_inventory.models import LegacyInventory, Retirement
from tests.factories import LegacyInventoryFactory, OperatorFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture
def retired_name():
    name = f"{services.DEPRECATED_PREFIX}{timezone.localdate():%Y%m%d}"
    yield name
    with connection.schema_editor() as editor:  # leave the schema as the next test expects it
        if not services.legacy_table_exists():
            editor.alter_db_table(LegacyInventory, name, LegacyInventory._meta.db_table)


def test_retire_renames_after_a_passing_reconciliation_and_drop_waits_seven_days(retired_name):
    operator = OperatorFactory()
    now = timezone.now()
    LegacyInventoryFactory(
        user_id=UserFactory().pk, name="¥20代金券", type="voucher", status="available", created_at=now, updated_at=now
    )
    call_command("migrate_inventory", verbosity=0)

    call_command("retire_user_inventory", operator=operator.username)

    today = timezone.localdate()
    assert not services.legacy_table_exists()
    assert services.deprecated_tables(today=today) == [(retired_name, today, False)]
    with pytest.raises(CommandError, match="already retired"):
        call_command("retire_user_inventory", operator=operator.username)

    old = f"{services.DEPRECATED_PREFIX}{today - timedelta(days=8):%Y%m%d}"
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE {connection.ops.quote_name(old)} (id INTEGER)")
    call_command("retire_user_inventory", drop=True, yes=True, operator=operator.username)

    assert [name for name, _, _ in services.deprecated_tables(today=today)] == [retired_name]
    assert list(Retirement.objects.values_list("action", "table_name", "actor")) == [
        ("retire", retired_name, operator.pk),
        ("drop", old, operator.pk),
    ]


def test_retirement_is_refused_to_a_user_without_the_permission():
    cashier = UserFactory(is_staff=True)

    with pytest.raises(CommandError, match="may not"):
        call_command("retire_user_inventory", operator=cashier.username)

    assert services.legacy_table_exists()
    assert not Retirement.objects.exists()
