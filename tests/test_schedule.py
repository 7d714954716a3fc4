import pytest
from django.core.management import call_command
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from backpack_site.celery import app
from backpack_site.schedule import PERIODIC_TASKS


def test_every_declared_task_is_a_registered_celery_task():
    app.loader.import_default_modules()

    assert {p.task for p in PERIODIC_TASKS} <= set(app.tasks)


@pytest.mark.django_db
def test_sync_is_idempotent_and_disables_what_is_no_longer_declared():
    every_hour = IntervalSchedule.objects.create(every=1, period=IntervalSchedule.HOURS)
    PeriodicTask.objects.create(name="retired job", task="gone.task", interval=every_hour, enabled=True)

    call_command("sync_periodic_tasks")
    call_command("sync_periodic_tasks")

    declared = PeriodicTask.objects.filter(name__in=[p.name for p in PERIODIC_TASKS])
    assert declared.count() == len(PERIODIC_TASKS)
    assert all(task.enabled and task.crontab for task in declared)
    assert not PeriodicTask.objects.get(name="retired job").enabled


@pytest.mark.django_db
def test_the_full_reconciliation_is_weekly_and_the_nightly_one_incremental():
    call_command("sync_periodic_tasks")

    full = PeriodicTask.objects.get(task="operations.tasks.reconcile_ledger_full").crontab
    nightly = PeriodicTask.objects.get(task="operations.tasks.reconcile_ledger").crontab
    assert (full.minute, full.hour, full.day_of_week) == ("0", "4", "0")
    assert (nightly.hour, nightly.day_of_week) == ("2", "*")
    assert PeriodicTask.objects.get(task="ledger.tasks.seal_journal").crontab.minute == "*"
