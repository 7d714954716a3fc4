"""Every write to the market.

Locks (market/locks.py, in the order of core/locks.py): the seller's user row (listing
creation only), the book and the bids it crosses (asset listing creation only), the listing, the item,
holds, then balances. A purchase is one transaction: the listing row is locked, checked, and everything it moves
is one balanced ledger entry (plus the item's change of owner for an item listing).
"""

from datetime import datetime
from typing import NamedTuple

from django.conf import settings
from django.db import IntegrityError
from django.utils import timezone

from core.amounts import MAX_AMOUNT, require_positive
from core.db import atomic_with_retry, insert_one, update_one
from core.keys import KEY_RULE, is_idempotency_key
from core.locks import user_lock
from core.services import events_record
from core.sweeps import Sweep, after_each_batch
from items.selectors import item_get_for_owner
from items.services import item_lock, item_transfer, item_unlock
from ledger.choices import SystemAccount
from ledger.exceptions import IdempotencyConflict, UnknownAsset
from ledger.selectors import assets_by_code
from ledger.services import (
    Accounts,
    HoldChange,
    Leg,
    accounts_get,
    entry_post,
    hold_create,
    hold_release,
    system_slot_code,
)
from market.events import purchase_events
from market.exceptions import (
    AssetNotTradable,
    CannotBuyOwnListing,
    InvalidListing,
    ListingNotFound,
    ListingNotOnSale,
    QuantityExceedsRemaining,
    TooManyOpenListings,
)
from market.locks import bids_lock, book_lock, listing_lock
from market.matching import FeeSplit, bids_fill, fee_split, listing_write
from market.models import HOLD_BUSINESS_TYPE, ListingStatus, ListingType, MarketListing, MarketTrade

DEFAULT_PRICE_ASSET = "DIAMOND"
PURCHASE_BUSINESS_TYPE = "market_purchase"


class PurchaseResult(NamedTuple):
    trade: MarketTrade
    created: bool


@atomic_with_retry
def listing_create(
    *,
    seller_id: int,
    unit_price: int,
    asset_code: str | None = None,
    quantity: int | None = None,
    item_instance_id: int | None = None,
    price_asset_code: str = DEFAULT_PRICE_ASSET,
) -> MarketListing:
    """Put an amount of an asset (frozen under a hold) or one item (locked) on sale.

    An asset listing first fills against the buy orders it crosses (market.matching), under its book's lock;
    what is left rests on the book.
    """
    is_asset = asset_code is not None
    if is_asset == (item_instance_id is not None):
        raise InvalidListing("List either an asset with a quantity or one item.")
    if not is_asset and quantity is not None:
        raise InvalidListing("An item listing has no quantity.")
    require_positive(InvalidListing, unit_price=unit_price, quantity=quantity if is_asset else 1)
    if unit_price * (quantity if is_asset else 1) > MAX_AMOUNT:
        raise InvalidListing("The listing is worth too much.", max_value=MAX_AMOUNT)
    assets = assets_by_code(asset_codes={asset_code, price_asset_code} - {None})
    if price_asset_code not in assets or (is_asset and asset_code not in assets):
        raise UnknownAsset(asset_codes=sorted({asset_code, price_asset_code} - {None} - assets.keys()))
    if is_asset and asset_code == price_asset_code:
        raise InvalidListing("The price asset must differ from the listed asset.")
    if is_asset and not assets[asset_code].is_tradable:
        raise AssetNotTradable(asset_code=asset_code)
    if not is_asset:  # before the listing row: a missing item must not reach the database as a foreign key
        item_get_for_owner(owner_id=seller_id, item_id=item_instance_id)

    # The cap is checked under the seller's row lock, so parallel creates cannot pass it together.
    user_lock(user_id=seller_id)
    open_count = MarketListing.objects.filter(seller_id=seller_id, status=ListingStatus.ON_SALE).count()
    if open_count >= settings.MARKET_MAX_OPEN_LISTINGS:
        raise TooManyOpenListings(limit=settings.MARKET_MAX_OPEN_LISTINGS)

    now = timezone.now()
    book_seq, bids = None, []
    if is_asset:  # the book, then the bids it crosses, before any hold or balance (core/locks.py)
        book_seq = book_lock(asset_code=asset_code, price_asset_code=price_asset_code)
        bids = bids_lock(asset_code=asset_code, price_asset_code=price_asset_code, min_unit_price=unit_price, now=now)
    listing = MarketListing.objects.create(
        seller_id=seller_id,
        listing_type=ListingType.ASSET if is_asset else ListingType.ITEM,
        asset_id=asset_code,
        quantity=quantity if is_asset else None,
        quantity_remaining=quantity if is_asset else None,
        item_instance_id=item_instance_id,
        price_asset_id=price_asset_code,
        unit_price=unit_price,
        book_seq=book_seq,
        expires_at=now + settings.MARKET_LISTING_TTL,
    )
    if is_asset:
        hold = hold_create(
            user_id=seller_id,
            asset_code=asset_code,
            amount=quantity,
            business_type=HOLD_BUSINESS_TYPE,
            business_id=str(listing.pk),
        )
        MarketListing.objects.filter(pk=listing.pk).update(hold=hold)
        listing.hold = hold
        if bids:
            _, events = bids_fill(listing=listing, bids=bids, now=now)
            listing_write(listing, now)
            events_record(events=events)
    else:
        item_lock(item_id=item_instance_id, locked_by=listing.lock_reference, owner_id=seller_id, actor_id=seller_id)
    return listing


@atomic_with_retry
def listing_purchase(
    *, listing_id: int, buyer_id: int, idempotency_key: str, quantity: int | None = None
) -> PurchaseResult:
    """Buy `quantity` of an asset listing (or the item of an item listing) in one ledger entry.

    A retry with the same idempotency key returns the original trade and moves nothing. The replay
    check costs nothing on the way to a purchase: the entry's unique business key is it, and the
    refusals that can come before the entry (sold out since, say) look for the original trade first.
    """
    if not is_idempotency_key(idempotency_key):
        raise InvalidListing(f"An idempotency key of {KEY_RULE} is required.")
    listing = listing_lock(listing_id=listing_id)
    if listing is None:
        raise ListingNotFound(listing_id=listing_id)
    now = timezone.now()
    try:
        if listing.status != ListingStatus.ON_SALE or listing.expires_at <= now:
            raise ListingNotOnSale(listing_id=listing.pk, status=listing.status)
        quantity = _purchase_quantity(listing, quantity)
    except (ListingNotOnSale, QuantityExceedsRemaining):  # unless this is a retry of a purchase made since
        previous = MarketTrade.objects.filter(buyer_id=buyer_id, idempotency_key=idempotency_key).first()
        if previous is None:
            raise
        return PurchaseResult(_replayed(previous, listing, quantity), created=False)
    if listing.seller_id == buyer_id:
        raise CannotBuyOwnListing(listing_id=listing.pk)
    split = fee_split(
        unit_price=listing.unit_price,
        quantity=quantity,
        fee_bps=settings.MARKET_FEE_BPS,
        min_fee=settings.MARKET_MIN_FEE,
    )
    if listing.listing_type == ListingType.ITEM:  # the item row comes before the ledger's rows (core/locks.py)
        item_transfer(
            item_id=listing.item_instance_id, locked_by=listing.lock_reference, to_owner_id=buyer_id, actor_id=buyer_id
        )
    fee_code = system_slot_code(SystemAccount.PLATFORM_FEE, user_id=buyer_id)
    accounts = accounts_get(user_ids={buyer_id, listing.seller_id}, system_codes={fee_code})
    result = entry_post(
        business_type=PURCHASE_BUSINESS_TYPE,
        business_id=f"{listing.pk}:{buyer_id}:{idempotency_key}",
        legs=_purchase_legs(listing, accounts, buyer_id, quantity, split, fee_code),
        hold_changes=[HoldChange(hold_id=listing.hold_id, amount=quantity)] if listing.hold_id else [],
        meta={"listing_id": listing.pk, "quantity": quantity},
        owners=accounts.owners,
    )
    if not result.created:  # a concurrent twin of this purchase committed first
        return PurchaseResult(_replayed(MarketTrade.objects.get(entry=result.entry), listing, quantity), created=False)

    remaining = listing.quantity_remaining - quantity if listing.listing_type == ListingType.ASSET else None
    sold = remaining in (0, None)
    update_one(
        MarketListing,
        listing.pk,
        quantity_remaining=remaining,
        status=ListingStatus.SOLD if sold else ListingStatus.ON_SALE,
        sold_at=now if sold else None,
        updated_at=now,
    )
    trade = MarketTrade(
        listing=listing,
        buyer_id=buyer_id,
        seller_id=listing.seller_id,
        quantity=quantity,
        unit_price=listing.unit_price,
        price_asset_id=listing.price_asset_id,
        total=split.total,
        fee=split.fee,
        seller_amount=split.seller_amount,
        entry=result.entry,
        idempotency_key=idempotency_key,
    )
    try:
        insert_one(trade)
    except IntegrityError:
        # The same key went through concurrently on another listing: not a retry of this one.
        # No savepoint is needed: the whole purchase rolls back with this error.
        raise IdempotencyConflict(idempotency_key=idempotency_key) from None
    events_record(events=purchase_events(listing, trade, sold_at=now if sold else None))
    return PurchaseResult(trade, created=True)


def _replayed(trade: MarketTrade, listing: MarketListing, quantity: int | None) -> MarketTrade:
    if trade.listing_id != listing.pk or (quantity is not None and quantity != trade.quantity):
        raise IdempotencyConflict(idempotency_key=trade.idempotency_key)
    return trade


def _purchase_quantity(listing: MarketListing, quantity: int | None) -> int:
    if listing.listing_type == ListingType.ITEM:
        if quantity not in (None, 1):
            raise InvalidListing("An item listing is bought whole.")
        return 1
    if quantity is None:
        raise InvalidListing("Give the quantity to buy.")
    require_positive(InvalidListing, quantity=quantity)
    if quantity > listing.quantity_remaining:
        raise QuantityExceedsRemaining(remaining=listing.quantity_remaining, quantity=quantity)
    return quantity


def _purchase_legs(
    listing: MarketListing, accounts: Accounts, buyer_id: int, quantity: int, split: FeeSplit, fee_code: str
) -> list[Leg]:
    """The counter legs of a purchase; the seller's frozen leg comes from the hold change."""
    buyer, seller = accounts.of_user[buyer_id], accounts.of_user[listing.seller_id]
    price = listing.price_asset_id
    parts = [
        (buyer, price, -split.total),
        (seller, price, split.seller_amount),
        (accounts.of_system[fee_code], price, split.fee),
    ]
    if listing.listing_type == ListingType.ASSET:
        parts.append((buyer, listing.asset_id, quantity))
    # A zero part (no fee, or a 100 % fee) moves nothing, and a leg must move something.
    return [
        Leg(account_id=account, asset_code=code, delta_available=amount) for account, code, amount in parts if amount
    ]


@atomic_with_retry
def listing_cancel(*, listing_id: int, actor) -> MarketListing:
    """The seller, or an operator who may delist (market.delist_listing), takes a listing off sale:
    the hold is released or the item unlocked. Anybody else's listing is as good as missing."""
    listing = listing_lock(listing_id=listing_id)
    if listing is None or (listing.seller_id != actor.pk and not actor.has_perm("market.delist_listing")):
        raise ListingNotFound(listing_id=listing_id)
    return _close(listing, ListingStatus.CANCELLED, actor_id=actor.pk)


def listings_expire(*, now: datetime | None = None, batch_size: int = 200) -> int:
    """Expire every listing on sale past its expiry time, releasing what it held. Returns the count.

    Ids are read in batches; each listing is closed in its own short transaction under its
    row lock, so a listing bought or cancelled meanwhile is skipped. One that cannot be closed
    is recorded and skipped, and the run goes on (core.sweeps).
    """
    now = now or timezone.now()

    due = MarketListing.objects.filter(status=ListingStatus.ON_SALE, expires_at__lte=now)
    with Sweep("expire_listings") as run:
        return after_each_batch(
            due,
            batch_size=batch_size,
            handle=lambda ids: sum(run.one(i, lambda i=i: _expire_one(i, now)) for i in ids),
        )


def listing_expire_for_item(reference: str) -> bool:
    """The listing named by an expired item's lock ("market:<listing id>") ends as expired and unlocks the item,
    in the caller's transaction (the items sweep's; items.services.holder_expiry_register). False when no
    listing on sale holds that lock any more."""
    listing = listing_lock(listing_id=int(reference)) if reference.isascii() and reference.isdigit() else None
    if listing is None or listing.status != ListingStatus.ON_SALE:
        return False
    _close(listing, ListingStatus.EXPIRED, actor_id=None)
    return True


@atomic_with_retry
def _expire_one(listing_id: int, now: datetime) -> int:
    listing = listing_lock(listing_id=listing_id)
    if listing.status != ListingStatus.ON_SALE or listing.expires_at > now:
        return 0
    _close(listing, ListingStatus.EXPIRED, actor_id=None)
    return 1


def _close(listing: MarketListing, status: ListingStatus, *, actor_id: int | None) -> MarketListing:
    """Take a locked listing off sale and give back what it rests on (inside the caller's transaction)."""
    if listing.status != ListingStatus.ON_SALE:
        raise ListingNotOnSale(listing_id=listing.pk, status=listing.status)
    MarketListing.objects.filter(pk=listing.pk, status=ListingStatus.ON_SALE).update(
        status=status, updated_at=timezone.now()
    )
    if listing.listing_type == ListingType.ASSET:
        hold_release(
            hold_id=listing.hold_id,
            business_type=f"market_listing_{status}",
            business_id=str(listing.pk),
            meta={"listing_id": listing.pk},
            actor_id=actor_id,
        )
    else:
        item_unlock(item_id=listing.item_instance_id, locked_by=listing.lock_reference, actor_id=actor_id)
    listing.refresh_from_db()
    return listing
