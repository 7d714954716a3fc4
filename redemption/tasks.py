from celery import shared_task

from redemption.services import orders_expire


@shared_task
def expire_redemption_orders() -> int:
    return orders_expire()
