"""The data of the market's business events (core.models.EventType; the catalogue is in the README)."""

from datetime import datetime

from core.models import EventType
from core.services import Event
from market.models import MarketListing, MarketTrade


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
