from celery import shared_task

from market.services import listings_expire


@shared_task
def expire_listings() -> int:
    return listings_expire()
