from celery import shared_task

from items.services import items_expire


@shared_task
def expire_items() -> int:
    return items_expire()
