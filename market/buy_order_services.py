"""Every write to buy orders (SPEC §14): place (and fill at once), cancel, expire.

A buy order rests on a ledger hold of `quantity_remaining * max_unit_price` of its price asset, always:
each fill settles its share of the hold and gives back what it cost under the limit price, and cancel
and expiry release what remains. Locks, in the order of core/locks.py: the buyer's user row (placing:
it guards the open-order cap and the replay of a key), the book, the asks it crosses, then the hold and
balances (market.matching); cancel and expiry lock the order row, then its hold and balances.
"""

from datetime import datetime
from typing import NamedTuple

from django.conf import settings
from django.utils import timezone

from core.amounts import MAX_AMOUNT, require_positive
from core.db import atomic_with_retry, insert_one
from core.keys import KEY_RULE, is_idempotency_key
from core.locks import user_lock
from core.services import events_record
from core.sweeps import Sweep, after_each_batch
from ledger.exceptions import IdempotencyConflict, UnknownAsset
from ledger.selectors import assets_by_code
from ledger.services import hold_create, hold_release
from market.events import buy_order_closed_event, buy_order_placed_event
from market.exceptions import (
    AssetNotTradable,
    BuyOrderNotFound,
    BuyOrderNotOpen,
    InvalidBuyOrder,
    TooManyOpenBuyOrders,
)
from market.locks import asks_lock, book_lock, buy_order_lock
from market.matching import asks_fill, order_write
from market.models import BUY_ORDER_HOLD_BUSINESS_TYPE, BuyOrder, BuyOrderStatus, MarketTrade
from market.services import DEFAULT_PRICE_ASSET


class PlaceResult(NamedTuple):
    order: BuyOrder
    fills: list[MarketTrade]
    created: bool


@atomic_with_retry
def buy_order_place(
    *,
    buyer_id: int,
    asset_code: str,
    quantity: int,
    max_unit_price: int,
    idempotency_key: str,
    price_asset_code: str = DEFAULT_PRICE_ASSET,
) -> PlaceResult:
    """Bid for `quantity` of a tradable asset at `max_unit_price` at most: freeze `quantity * max_unit_price`,
    fill at once against the asks it crosses (market.matching), and rest with what is left.

    Placing again with the same key returns the order as it is now and its fills, and moves nothing.
    """
    if not is_idempotency_key(idempotency_key):
        raise InvalidBuyOrder(f"An idempotency key of {KEY_RULE} is required.")
    require_positive(InvalidBuyOrder, quantity=quantity, max_unit_price=max_unit_price)
    if quantity * max_unit_price > MAX_AMOUNT:
        raise InvalidBuyOrder("The buy order is worth too much.", max_value=MAX_AMOUNT)
    codes = {asset_code, price_asset_code}
    assets = assets_by_code(asset_codes=codes)  # keyed as stored: compared exactly below
    if codes - assets.keys():
        raise UnknownAsset(asset_codes=sorted(codes - assets.keys()))
    if asset_code == price_asset_code:
        raise InvalidBuyOrder("The price asset must differ from the asset bought.")
    if not assets[asset_code].is_tradable:
        raise AssetNotTradable(asset_code=asset_code)

    user_lock(user_id=buyer_id)  # the open-order cap and the key
    previous = BuyOrder.objects.filter(buyer_id=buyer_id, idempotency_key=idempotency_key).first()
    if previous is not None:
        asked = (asset_code, price_asset_code, quantity, max_unit_price)
        if (previous.asset_id, previous.price_asset_id, previous.quantity, previous.max_unit_price) != asked:
            raise IdempotencyConflict(idempotency_key=idempotency_key)
        return PlaceResult(previous, list(previous.fills.order_by("pk")), created=False)
    open_count = BuyOrder.objects.filter(buyer_id=buyer_id, status=BuyOrderStatus.OPEN).count()
    if open_count >= settings.MARKET_MAX_OPEN_BUY_ORDERS:
        raise TooManyOpenBuyOrders(limit=settings.MARKET_MAX_OPEN_BUY_ORDERS)

    now = timezone.now()
    book_seq = book_lock(asset_code=asset_code, price_asset_code=price_asset_code)
    asks = asks_lock(asset_code=asset_code, price_asset_code=price_asset_code, max_unit_price=max_unit_price, now=now)
    hold = hold_create(
        user_id=buyer_id,
        asset_code=price_asset_code,
        amount=quantity * max_unit_price,
        business_type=BUY_ORDER_HOLD_BUSINESS_TYPE,
        business_id=f"{buyer_id}:{idempotency_key}",
        meta={"asset_code": asset_code, "quantity": quantity, "max_unit_price": max_unit_price},
    )
    order = BuyOrder(
        buyer_id=buyer_id,
        asset_id=asset_code,
        price_asset_id=price_asset_code,
        quantity=quantity,
        quantity_remaining=quantity,
        max_unit_price=max_unit_price,
        hold=hold,
        book_seq=book_seq,
        idempotency_key=idempotency_key,
        expires_at=now + settings.MARKET_BUY_ORDER_TTL,
    )
    insert_one(order)
    events = [buy_order_placed_event(order)]
    fills = []
    if asks:
        fills, fill_events = asks_fill(order=order, asks=asks, now=now)
        order_write(order, now)
        events += fill_events
    events_record(events=events)
    return PlaceResult(order, fills, created=True)


@atomic_with_retry
def buy_order_cancel(*, buy_order_id: int, actor) -> BuyOrder:
    """The buyer, or an operator who may (market.cancel_buy_order), cancels an open order: what is still
    held is released. Anybody else's order is as good as missing."""
    order = buy_order_lock(buy_order_id=buy_order_id)
    if order is None or (order.buyer_id != actor.pk and not actor.has_perm("market.cancel_buy_order")):
        raise BuyOrderNotFound(buy_order_id=buy_order_id)
    return _close(order, BuyOrderStatus.CANCELLED, actor_id=actor.pk)


def buy_orders_expire(*, now: datetime | None = None, batch_size: int = 200) -> int:
    """Expire every open order past its expiry time, releasing what it held. Returns the count.

    Ids are read in batches; each order is closed in its own short transaction under its row lock, so an
    order filled or cancelled meanwhile is skipped. One that cannot be closed is recorded and skipped, and
    the run goes on (core.sweeps).
    """
    now = now or timezone.now()

    due = BuyOrder.objects.filter(status=BuyOrderStatus.OPEN, expires_at__lte=now)
    with Sweep("expire_buy_orders") as run:
        return after_each_batch(
            due,
            batch_size=batch_size,
            handle=lambda ids: sum(run.one(i, lambda i=i: _expire_one(i, now)) for i in ids),
        )


@atomic_with_retry
def _expire_one(order_id: int, now: datetime) -> int:
    order = buy_order_lock(buy_order_id=order_id)
    if order.status != BuyOrderStatus.OPEN or order.expires_at > now:
        return 0
    _close(order, BuyOrderStatus.EXPIRED, actor_id=None)
    return 1


def _close(order: BuyOrder, status: BuyOrderStatus, *, actor_id: int | None) -> BuyOrder:
    """Take a locked open order off the book and release all its hold still has (inside the caller's transaction)."""
    if order.status != BuyOrderStatus.OPEN:
        raise BuyOrderNotOpen(buy_order_id=order.pk, status=order.status)
    now = timezone.now()
    order.status, order.closed_at = status, now
    order_write(order, now)
    hold_release(
        hold_id=order.hold_id,
        business_type=f"{BUY_ORDER_HOLD_BUSINESS_TYPE}_{status}",
        business_id=str(order.pk),
        meta={"buy_order_id": order.pk},
        actor_id=actor_id,
    )
    events_record(events=[buy_order_closed_event(order)])
    return order
