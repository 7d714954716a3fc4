"""The data of redemption's business events (core.models.EventType; the catalogue is in the README)."""

from typing import TYPE_CHECKING

from redemption.models import Merchant, RedemptionOrder

if TYPE_CHECKING:
    from items.models import ItemInstance


def redeemed_event_data(order: RedemptionOrder, item: "ItemInstance", merchant: Merchant) -> dict:
    """code.redeemed: which order and item, whose, where and by whom. Never the code."""
    return {
        "order_id": order.order_id,
        "item_id": item.pk,
        "customer_id": order.customer_id,
        "item_type": item.item_type,
        "name": item.name,
        "merchant_code": merchant.code,
        "redeemer_id": order.redeemer_id,
        "fulfilled_at": order.fulfilled_at,
    }
