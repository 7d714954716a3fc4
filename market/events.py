"""The data of the market's business events (core.models.EventType; the catalogue is in the README)."""

from datetime import datetime

from core.models import EventType
from core.services import Event
from market.models import BuyOrder, MarketListing, MarketTrade


def purchase_events(listing: MarketListing, trade: MarketTrade, *, sold_at: datetime | None) -> list[Event]:
    """trade.settled for every purchase; listing.sold too when it took what was left."""
    what = {
        "listing_type": listing.listing_type,
        "asset_code": listing.asset_id,
        "item_instance_id": listing.item_instance_id,
        "price_asset_code": listing.price_asset_id,
        "unit_price": listing.unit_price,
    }
    events = [
        Event(
            EventType.TRADE_SETTLED,
            {
                "trade_id": trade.pk,
                "listing_id": listing.pk,
                "buyer_id": trade.buyer_id,
                "seller_id": trade.seller_id,
                **what,
                "quantity": trade.quantity,
                "total": trade.total,
                "fee": trade.fee,
                "seller_amount": trade.seller_amount,
                "entry_id": trade.entry_id,
            },
        )
    ]
    if sold_at is not None:
        events.append(
            Event(
                EventType.LISTING_SOLD,
                {
                    "listing_id": listing.pk,
                    "seller_id": listing.seller_id,
                    **what,
                    "quantity": listing.quantity,
                    "sold_at": sold_at,
                },
            )
        )
    return events


def buy_order_data(order: BuyOrder) -> dict:
    return {
        "buy_order_id": order.pk,
        "buyer_id": order.buyer_id,
        "asset_code": order.asset_id,
        "price_asset_code": order.price_asset_id,
        "quantity": order.quantity,
        "quantity_remaining": order.quantity_remaining,
        "max_unit_price": order.max_unit_price,
        "status": order.status,
    }


def buy_order_placed_event(order: BuyOrder) -> Event:
    return Event(EventType.BUY_ORDER_PLACED, {**buy_order_data(order), "expires_at": order.expires_at})


def buy_order_closed_event(order: BuyOrder) -> Event:
    """The order left the book: filled, cancelled or expired (`status`); `closed_at` says when."""
    return Event(EventType.BUY_ORDER_CLOSED, {**buy_order_data(order), "closed_at": order.closed_at})
