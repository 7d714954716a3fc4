from celery import shared_task

from market.buy_order_services import buy_orders_expire
from market.services import listings_expire


@shared_task
def expire_listings() -> int:
    return listings_expire()


@shared_task
def expire_buy_orders() -> int:
    return buy_orders_expire()
