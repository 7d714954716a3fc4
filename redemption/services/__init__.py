"""Every write of the redemption app, by sub-domain: orders, their verification at the counter, merchants, history."""

from redemption.services.history import PastRedemption, orders_import_fulfilled, orders_remove_imported
from redemption.services.merchants import MERCHANT_STAFF_GROUP, merchant_get_or_create, merchant_staff_add
from redemption.services.orders import (
    IssuedOrder,
    order_cancel,
    order_code_again,
    order_create,
    order_expire_for_item,
    orders_expire,
)
from redemption.services.verification import Verification, order_fulfil, order_lookup

__all__ = [
    "MERCHANT_STAFF_GROUP",
    "IssuedOrder",
    "PastRedemption",
    "Verification",
    "merchant_get_or_create",
    "merchant_staff_add",
    "order_cancel",
    "order_code_again",
    "order_create",
    "order_expire_for_item",
    "order_fulfil",
    "order_lookup",
    "orders_expire",
    "orders_import_fulfilled",
    "orders_remove_imported",
]
