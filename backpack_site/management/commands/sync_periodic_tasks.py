from django.conf import settings
from django.core.management.base import BaseCommand
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from backpack_site.schedule import PERIODIC_TASKS


class Command(BaseCommand):
    help = "Write the periodic tasks declared in backpack_site/schedule.py into the beat schedule (idempotent)."

    def handle(self, *args, **options):
        for periodic in PERIODIC_TASKS:
            crontab, _ = CrontabSchedule.objects.get_or_create(
                minute=periodic.minute,
                hour=periodic.hour,
                day_of_week=periodic.day_of_week,
                day_of_month="*",
                month_of_year="*",
                timezone=settings.TIME_ZONE,
            )
            _, created = PeriodicTask.objects.update_or_create(
                name=periodic.name, defaults={"task": periodic.task, "crontab": crontab, "enabled": True}
            )
            self.stdout.write(
                f"{'created' if created else 'updated'}: {periodic.name}"
                f" ({periodic.minute} {periodic.hour} * * {periodic.day_of_week})"
            )
        declared = {periodic.name for periodic in PERIODIC_TASKS}
        stale = PeriodicTask.objects.exclude(name__in=declared).exclude(name__startswith="celery.")
        for task in stale:
            self.stdout.write(f"disabled (no longer declared): {task.name}")
        stale.update(enabled=False)
