"""core.db's plain-SQL helpers: what the hot paths write and read without the ORM's field API."""

import datetime as dt

import pytest
from django.db import IntegrityError, connection, models, transaction
from django.utils import timezone

from core.db import bulk_insert, insert_one, rows_fetch, update_one
from core.models import BackpackVersion, OutboxEvent

pytestmark = pytest.mark.django_db


def _event(**fields) -> OutboxEvent:
    return OutboxEvent(event_type="asset.granted", data={"user_id": 1, "amount": 5}, **fields)


def test_insert_one_sets_the_primary_key_and_the_auto_timestamps():
    event = _event()
    before = timezone.now()

    insert_one(event)

    assert event.pk is not None and not event._state.adding
    stored = OutboxEvent.objects.get(pk=event.pk)
    assert stored.data == {"user_id": 1, "amount": 5}
    assert stored.created_at == event.created_at and stored.created_at >= before.replace(microsecond=0)
    assert stored.published_at is None


def test_a_failed_insert_one_undoes_only_itself_and_the_transaction_goes_on():
    with transaction.atomic():
        insert_one(_event(once_key="daily:1"))
        with pytest.raises(IntegrityError):
            insert_one(_event(once_key="daily:1"))
        insert_one(_event(once_key="daily:2"))  # the transaction is not marked for rollback

    assert sorted(OutboxEvent.objects.values_list("once_key", flat=True)) == ["daily:1", "daily:2"]


def test_bulk_insert_writes_every_row_in_batches():
    bulk_insert(OutboxEvent, [_event(once_key=f"bulk:{n}") for n in range(5)], batch_size=2)

    assert OutboxEvent.objects.filter(once_key__startswith="bulk:").count() == 5


def test_update_one_writes_converted_values_and_says_whether_the_row_matched():
    event = _event()
    insert_one(event)
    published = timezone.now().replace(microsecond=0)

    assert update_one(OutboxEvent, event.pk, published_at=published, data={"changed": True}) == 1
    assert update_one(OutboxEvent, event.pk + 1000, published_at=published) == 0

    stored = OutboxEvent.objects.get(pk=event.pk)
    assert stored.published_at == published and stored.data == {"changed": True}


def test_rows_fetch_converts_as_the_orm_does():
    event = _event(published_at=timezone.now())
    insert_one(event)
    table = connection.ops.quote_name(OutboxEvent._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(f.column) for f in OutboxEvent._meta.concrete_fields)

    (fetched,) = rows_fetch(OutboxEvent, f"SELECT {columns} FROM {table} WHERE id = %s", [event.pk])

    orm = OutboxEvent.objects.get(pk=event.pk)
    assert isinstance(fetched, OutboxEvent) and not fetched._state.adding
    assert fetched.data == orm.data == {"user_id": 1, "amount": 5}  # JSON decoded
    assert fetched.published_at == orm.published_at and timezone.is_aware(fetched.published_at)
    assert fetched.created_at == orm.created_at


def test_a_model_whose_field_computes_its_value_on_save_is_refused():
    """insert_one skips the field API: a pre_save() it would not run is refused, not silently bypassed."""

    class UpperCaseField(models.CharField):
        def pre_save(self, model_instance, add):
            value = getattr(model_instance, self.attname).upper()
            setattr(model_instance, self.attname, value)
            return value

    class Shouting(models.Model):
        text = UpperCaseField(max_length=10)
        stamped = models.DateTimeField(auto_now=True)  # auto timestamps are honoured, not refused

        class Meta:
            app_label = "core"
            managed = False

        def __str__(self):
            return self.text

    with pytest.raises(TypeError, match=r"Shouting\.text computes its value in pre_save"):
        insert_one(Shouting(text="hi"))


def test_auto_timestamps_are_honoured_on_insert():
    when = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    event = _event(created_at=when)

    insert_one(event)

    assert event.created_at > when  # auto_now_add: set on insert as save() would, whatever was there


def test_a_primary_key_given_by_the_caller_is_kept(django_user_model):
    user = django_user_model.objects.create(username="versioned")

    version = BackpackVersion(user_id=user.pk, version=7)

    insert_one(version)

    assert version.pk == user.pk  # a key that is not auto-generated is kept, not taken from lastrowid
    assert BackpackVersion.objects.get(user=user).version == 7
