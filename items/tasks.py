from celery import shared_task

from items.services import items_announce_expiring, items_expire


@shared_task
def expire_items() -> int:
    return items_expire()


@shared_task
def announce_expiring_items() -> int:
    return items_announce_expiring()
