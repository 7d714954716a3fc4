"""Matching: a new buy order against the asks, a new asset listing against the bids (SPEC §14).

Price-time priority at the resting order's price: a bid takes the cheapest asks first, then the
oldest; an ask takes the highest bids first, then the oldest ("oldest" is the book's version when the
order came to rest, so a cluster's interleaved ids play no part). Each fill takes what the smaller side
has left, is one `market_trades` row marked with its buy order, and one balanced journal entry: the
seller's hold settles the quantity, the buyer's hold settles `quantity * max_unit_price` of which the
part above the fill price goes back to the buyer's available balance, the seller gets the total minus
the fee (paid by the seller, as in any trade) and the fee goes to the taker's slot of
`SYSTEM_PLATFORM_FEE` (one fee row per matching transaction, whatever the number of fills).

Concurrency: the taker holds its book's lock (market.locks.book_lock, class 2 of core/locks.py) before
it reads the other side, so two crossing orders on the same book queue there and the second sees what
the first left; a commit therefore never leaves the book crossed. The resting orders are locked in
priority order, a batch at a time, before their holds and balances; purchases, cancels and expiry lock
one listing or order each and never the book, since they can only take orders off it.
"""

from datetime import datetime
from typing import NamedTuple

from django.conf import settings

from core.db import insert_one, update_one
from core.models import EventType
from core.services import Event
from ledger.choices import SystemAccount
from ledger.services import Accounts, HoldChange, Leg, accounts_get, entry_post, system_slot_code
from market.events import buy_order_closed_event, purchase_events
from market.exceptions import WouldTradeWithSelf
from market.locks import MATCH_BATCH, asks_lock, bids_lock
from market.models import (
    FILL_BUSINESS_TYPE,
    BuyOrder,
    BuyOrderStatus,
    ListingStatus,
    MarketListing,
    MarketTrade,
)


class FeeSplit(NamedTuple):
    total: int
    fee: int
    seller_amount: int


def fee_split(*, unit_price: int, quantity: int, fee_bps: int, min_fee: int = 0) -> FeeSplit:
    """The price of `quantity` units and its split, integers only: with a fee rate, the fee is
    max(floor(total * bps / 10000), min_fee), never more than the total; without one, nothing.

    The minimum keeps small purchases from slipping under the fee (SPEC §5): the floor alone is 0 below a
    total of 20 at 5 %, and buying one unit at a time would avoid the fee altogether.
    """
    total = unit_price * quantity
    fee = min(total, max(total * fee_bps // 10_000, min_fee)) if fee_bps else 0
    return FeeSplit(total=total, fee=fee, seller_amount=total - fee)


class _Fills:
    """The fills of one taker: the fee slot, the trades and the events."""

    def __init__(self, taker_id: int, now: datetime):
        self.fee_code = system_slot_code(SystemAccount.PLATFORM_FEE, user_id=taker_id)
        self.now = now
        self.trades: list[MarketTrade] = []
        self.events: list[Event] = []

    def accounts(self, user_ids: set[int]) -> Accounts:
        return accounts_get(user_ids=user_ids, system_codes={self.fee_code})

    def post(self, order: BuyOrder, listing: MarketListing, unit_price: int, accounts: Accounts) -> None:
        """One fill at `unit_price` (the resting order's) of what the smaller side has left; updates both sides
        in memory (the caller writes them)."""
        quantity = min(order.quantity_remaining, listing.quantity_remaining)
        split = fee_split(
            unit_price=unit_price, quantity=quantity, fee_bps=settings.MARKET_FEE_BPS, min_fee=settings.MARKET_MIN_FEE
        )
        reserved = quantity * order.max_unit_price
        buyer, seller = accounts.of_user[order.buyer_id], accounts.of_user[listing.seller_id]
        parts = [
            (seller, order.price_asset_id, split.seller_amount),
            (accounts.of_system[self.fee_code], order.price_asset_id, split.fee),
            (buyer, order.asset_id, quantity),
        ]
        result = entry_post(
            business_type=FILL_BUSINESS_TYPE,
            business_id=f"{order.pk}:{listing.pk}",
            # A zero part (no fee, or a 100 % fee) moves nothing, and a leg must move something.
            legs=[Leg(account_id=a, asset_code=code, delta_available=amount) for a, code, amount in parts if amount],
            hold_changes=[
                HoldChange(hold_id=listing.hold_id, amount=quantity),
                HoldChange(hold_id=order.hold_id, amount=reserved, released=reserved - split.total),
            ],
            meta={
                "buy_order_id": order.pk,
                "listing_id": listing.pk,
                "buyer_id": order.buyer_id,
                "quantity": quantity,
                "unit_price": unit_price,
            },
            owners=accounts.owners,
        )
        listing.quantity_remaining -= quantity
        order.quantity_remaining -= quantity
        trade = MarketTrade(
            listing=listing,
            buy_order=order,
            buyer_id=order.buyer_id,
            seller_id=listing.seller_id,
            quantity=quantity,
            unit_price=unit_price,
            price_asset_id=order.price_asset_id,
            total=split.total,
            fee=split.fee,
            seller_amount=split.seller_amount,
            entry=result.entry,
            # Not a client's key: "#" is outside the Idempotency-Key alphabet, so no purchase can take it.
            idempotency_key=f"#fill:{order.pk}:{listing.pk}",
        )
        insert_one(trade)
        self.trades.append(trade)
        sold_at = self.now if listing.quantity_remaining == 0 else None
        self.events += purchase_events(listing, trade, sold_at=sold_at)
        self.events.append(
            Event(
                EventType.BUY_ORDER_FILLED,
                {
                    "buy_order_id": order.pk,
                    "buyer_id": order.buyer_id,
                    "trade_id": trade.pk,
                    "listing_id": listing.pk,
                    "asset_code": order.asset_id,
                    "price_asset_code": order.price_asset_id,
                    "quantity": quantity,
                    "unit_price": unit_price,
                    "released": reserved - split.total,
                    "quantity_remaining": order.quantity_remaining,
                    "entry_id": result.entry.pk,
                },
            )
        )
        if order.quantity_remaining == 0:
            order.status, order.closed_at = BuyOrderStatus.FILLED, self.now
            self.events.append(buy_order_closed_event(order))


def listing_write(listing: MarketListing, now: datetime) -> None:
    sold = listing.quantity_remaining == 0
    listing.status, listing.sold_at = (ListingStatus.SOLD, now) if sold else (listing.status, None)
    update_one(
        MarketListing,
        listing.pk,
        quantity_remaining=listing.quantity_remaining,
        status=listing.status,
        sold_at=listing.sold_at,
        updated_at=now,
    )


def order_write(order: BuyOrder, now: datetime) -> None:
    update_one(
        BuyOrder,
        order.pk,
        quantity_remaining=order.quantity_remaining,
        status=order.status,
        closed_at=order.closed_at,
        updated_at=now,
    )


def asks_fill(*, order: BuyOrder, asks: list[MarketListing], now: datetime) -> tuple[list[MarketTrade], list[Event]]:
    """Fill a new buy order (inserted, its hold created) against `asks` (`asks_lock`, taken before the hold),
    then against further batches while it has something left. The caller writes the order; returns the trades
    and the events to record. A listing of the buyer's own on the way refuses the whole order."""
    fills = _Fills(order.buyer_id, now)
    while asks:
        accounts = fills.accounts({order.buyer_id} | {listing.seller_id for listing in asks})
        for listing in asks:
            if listing.seller_id == order.buyer_id:
                raise WouldTradeWithSelf(listing_id=listing.pk)
            fills.post(order, listing, listing.unit_price, accounts)
            listing_write(listing, now)
            if order.quantity_remaining == 0:
                return fills.trades, fills.events
        if len(asks) < MATCH_BATCH:
            break
        asks = asks_lock(
            asset_code=order.asset_id,
            price_asset_code=order.price_asset_id,
            max_unit_price=order.max_unit_price,
            now=now,
        )
    return fills.trades, fills.events


def bids_fill(*, listing: MarketListing, bids: list[BuyOrder], now: datetime) -> tuple[list[MarketTrade], list[Event]]:
    """Fill a new asset listing (inserted, its hold created) against `bids` (`bids_lock`, taken before the hold),
    then against further batches while it has something left. The caller writes the listing. A buy order of
    the seller's own on the way refuses the whole listing."""
    fills = _Fills(listing.seller_id, now)
    while bids:
        accounts = fills.accounts({listing.seller_id} | {order.buyer_id for order in bids})
        for order in bids:
            if order.buyer_id == listing.seller_id:
                raise WouldTradeWithSelf(buy_order_id=order.pk)
            fills.post(order, listing, order.max_unit_price, accounts)
            order_write(order, now)
            if listing.quantity_remaining == 0:
                return fills.trades, fills.events
        if len(bids) < MATCH_BATCH:
            break
        bids = bids_lock(
            asset_code=listing.asset_id,
            price_asset_code=listing.price_asset_id,
            min_unit_price=listing.unit_price,
            now=now,
        )
    return fills.trades, fills.events
