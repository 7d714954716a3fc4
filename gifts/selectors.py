"""Reads of gifts, and the activity feed: everything that happened to a customer's backpack (SPEC §11).

The feed is read from the journal legs and the item events themselves, never from a copy: three
streams, each newest first by id (the user's legs; item events that left an item with the user; item
events that took one away), merged by time. The cursor holds each stream's position, so pages neither
skip nor repeat whatever is written meanwhile: every leg and item event of a user is inserted after the
transaction locked that user's backpack version (the backpack-versions class of core/locks.py), so a row of the user that
commits after a page was read has a higher id than the page's (on a cluster, the conflict on that row at
COMMIT retries the later writer, with a new id). At most five queries a page, whatever its size.
"""

import base64
import binascii
import json
import re
from dataclasses import dataclass
from typing import NamedTuple

from django.db.models import Case, F, Q, QuerySet, Value, When

from core.errors import InvalidInput
from gifts.models import GIFT_BUSINESS_TYPE, Gift
from items.choices import ItemEventType
from items.selectors import item_events_page_for_user
from ledger.selectors import EntryParties, entry_parties, legs_page_for_user

GIFT_COLUMNS = ("id", "item_instance_id", "amount", "message", "created_at")
GIFT_FIELDS = {
    "sender_name": F("sender__username"),
    "recipient_name": F("recipient__username"),
    "item_type": F("item_instance__item_type"),
    "item_name": F("item_instance__name"),
    "asset_code": F("asset_id"),
}

# Business types of other apps' entries, as the market writes them (market.models, market.services): a
# listing's hold, and its release when it closes; a buy order's hold, and its release. Which entries are trades
# (purchases, fills) the market says itself (ledger.selectors.entry_parties).
LISTING_HOLD_BUSINESS_TYPE = "market_listing"
BUY_ORDER_HOLD_BUSINESS_TYPE = "market_buy_order"
OWN_KINDS = {"adjustment": "adjustment", "migration": "migration"}
FEED_ITEM_EVENTS = (
    ItemEventType.GRANTED,
    ItemEventType.IMPORTED,
    ItemEventType.TRANSFERRED,
    ItemEventType.GIFTED,
    ItemEventType.USED,
    ItemEventType.EXPIRED,
)
GIVEN_AWAY_EVENTS = (ItemEventType.TRANSFERRED, ItemEventType.GIFTED)
GIFT_ID = re.compile(r"[1-9][0-9]{0,17}")  # ASCII digits only, and within a BIGINT


def gifts_for_user(*, user_id: int, direction: str | None = None) -> QuerySet:
    """The user's gifts, sent, received or both, as plain dicts with a `direction`: one query a page."""
    if direction == "sent":
        gifts = Gift.objects.filter(sender_id=user_id)
    elif direction == "received":
        gifts = Gift.objects.filter(recipient_id=user_id)
    else:
        gifts = Gift.objects.filter(Q(sender_id=user_id) | Q(recipient_id=user_id))
    return gifts.values(
        *GIFT_COLUMNS,
        **GIFT_FIELDS,
        direction=Case(When(sender_id=user_id, then=Value("sent")), default=Value("received")),
    )


def gift_get(*, gift_id: int, user_id: int) -> dict:
    return gifts_for_user(user_id=user_id).get(pk=gift_id)


def masked(name: str | None) -> str | None:
    """How one customer sees another in their feed: the first character, then stars."""
    return f"{name[:1]}***" if name else None


@dataclass(frozen=True)
class ActivityCursor:
    """Where each stream of the feed stopped: the last id shown of each (None: not started)."""

    leg_id: int | None = None
    received_event_id: int | None = None
    given_event_id: int | None = None

    def encode(self) -> str:
        text = json.dumps([self.leg_id, self.received_event_id, self.given_event_id], separators=(",", ":"))
        return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> "ActivityCursor":
        try:
            values = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        except (binascii.Error, UnicodeDecodeError, ValueError):
            values = None
        valid = isinstance(values, list) and len(values) == 3
        if not valid or not all(v is None or (type(v) is int and 0 <= v < 2**63) for v in values):
            raise InvalidInput("The cursor is not valid.", cursor=text[:100])
        return cls(*values)


class ActivityPage(NamedTuple):
    rows: list[dict]
    next_cursor: ActivityCursor | None


def activity_page(*, user_id: int, cursor: ActivityCursor | None = None, page_size: int = 50) -> ActivityPage:
    """One page of the user's feed, newest first, and the cursor of the next (None on the last page)."""
    cursor = cursor or ActivityCursor()
    fetch = page_size + 1  # one more than a page: whether a stream goes on
    streams = {
        "leg": legs_page_for_user(user_id=user_id, before_id=cursor.leg_id, limit=fetch),
        "received": item_events_page_for_user(
            user_id=user_id,
            given_away=False,
            event_types=FEED_ITEM_EVENTS,
            before_id=cursor.received_event_id,
            limit=fetch,
        ),
        "given": item_events_page_for_user(
            user_id=user_id,
            given_away=True,
            event_types=GIVEN_AWAY_EVENTS,
            before_id=cursor.given_event_id,
            limit=fetch,
        ),
    }
    taken, positions = _merge(streams, page_size)
    more = any(positions[name] < len(rows) for name, rows in streams.items())
    rows = _rows(taken, user_id)
    if not more:
        return ActivityPage(rows, None)
    last = {name: streams[name][positions[name] - 1]["id"] if positions[name] else None for name in streams}
    next_cursor = ActivityCursor(
        leg_id=last["leg"] or cursor.leg_id,
        received_event_id=last["received"] or cursor.received_event_id,
        given_event_id=last["given"] or cursor.given_event_id,
    )
    return ActivityPage(rows, next_cursor)


def _merge(streams: dict[str, list[dict]], page_size: int) -> tuple[list[tuple[str, dict]], dict[str, int]]:
    """Take up to `page_size` rows from the heads of the streams, newest first; return them and each stream's position."""
    positions = dict.fromkeys(streams, 0)
    taken = []
    while len(taken) < page_size:
        heads = [
            (rows[positions[name]]["created_at"], name) for name, rows in streams.items() if positions[name] < len(rows)
        ]
        if not heads:
            break
        _, name = max(heads, key=lambda head: head[0])
        taken.append((name, streams[name][positions[name]]))
        positions[name] += 1
    return taken, positions


def _rows(taken: list[tuple[str, dict]], user_id: int) -> list[dict]:
    """The feed's rows, with the other party's masked name and a gift's message: two queries at most.

    What an entry or event was is read from its owner's own row (the gift, the trade), never from an entry's
    business id or meta, which grants could once write (issue 20); a leg with no such row shows as the grant
    or spend it is. A gift's message is shown only to its sender and its recipient.
    """
    entries_by_type: dict[str, list[int]] = {}
    for name, row in taken:
        if name == "leg":
            entries_by_type.setdefault(row["business_type"], []).append(row["entry_id"])
    trades = entry_parties(entry_ids_by_type=entries_by_type)
    gift_entries = entries_by_type.get(GIFT_BUSINESS_TYPE, [])
    item_gifts = {gift_id for name, row in taken if name != "leg" and (gift_id := _item_gift_id(row)) is not None}
    gifts = _gifts_of(user_id, gift_entries, item_gifts) if gift_entries or item_gifts else []
    gift_of_entry = {gift["entry_id"]: gift for gift in gifts if gift["entry_id"] is not None}
    gift_of_item_event = {(gift["id"], gift["item_instance_id"]): gift for gift in gifts}
    feed = []
    for name, row in taken:
        if name == "leg":
            gift = gift_of_entry.get(row["entry_id"]) if row["business_type"] == GIFT_BUSINESS_TYPE else None
            feed.append(_leg_row(row, user_id, gift=gift, trade=trades.get(row["entry_id"])))
        else:
            gift = gift_of_item_event.get((_item_gift_id(row), row["item_id"]))
            feed.append(_item_row(row, given_away=name == "given"))
        feed[-1]["message"] = gift["message"] if gift else None
    return feed


def _gifts_of(user_id: int, entry_ids: list[int], gift_ids: set[int]) -> list[dict]:
    """The user's own gifts (sent or received) among those of these entries and ids: one query."""
    return list(
        Gift.objects.filter(Q(entry_id__in=entry_ids) | Q(pk__in=gift_ids))
        .filter(Q(sender_id=user_id) | Q(recipient_id=user_id))
        .values(
            "id",
            "entry_id",
            "item_instance_id",
            "sender_id",
            "message",
            sender_name=GIFT_FIELDS["sender_name"],
            recipient_name=GIFT_FIELDS["recipient_name"],
        )
    )


def _item_gift_id(event: dict) -> int | None:
    """The gift of a `gift` item event, from the reference the gift service gave it ("gift:<gift id>")."""
    number = event["business_ref"].removeprefix("gift:")
    if event["event_type"] != ItemEventType.GIFTED or not GIFT_ID.fullmatch(number):
        return None
    return int(number)


def _leg_row(leg: dict, user_id: int, *, gift: dict | None, trade: EntryParties | None) -> dict:
    kind, counterparty = _leg_kind(leg), None
    if gift is not None:
        sent = gift["sender_id"] == user_id
        kind, counterparty = ("gift_sent", gift["recipient_name"]) if sent else ("gift_received", gift["sender_name"])
    elif trade is not None and user_id in (trade.initiator_id, trade.other_id):
        bought = trade.initiator_id == user_id
        kind, counterparty = ("purchase", trade.other_name) if bought else ("sale", trade.initiator_name)
    return {
        "id": f"leg:{leg['id']}",
        "kind": kind,
        "created_at": leg["created_at"],
        "asset_code": leg["asset_code"],
        "delta_available": leg["delta_available"],
        "delta_frozen": leg["delta_frozen"],
        "item_instance_id": None,
        "item_type": None,
        "item_name": None,
        "counterparty": masked(counterparty),
        "reference": f"{leg['business_type']}:{leg['business_id']}",
    }


def _leg_kind(leg: dict) -> str:
    """The kind of a leg that is no gift or trade of the user's: by its business type, as its owner posts it."""
    business_type = leg["business_type"]
    if business_type == BUY_ORDER_HOLD_BUSINESS_TYPE:
        return "buy_order"
    if business_type.startswith(f"{BUY_ORDER_HOLD_BUSINESS_TYPE}_"):
        return "buy_order_closed"
    if business_type == LISTING_HOLD_BUSINESS_TYPE:
        return "listing"
    if business_type.startswith(f"{LISTING_HOLD_BUSINESS_TYPE}_"):
        return "listing_closed"
    if business_type in OWN_KINDS:
        return OWN_KINDS[business_type]
    return "grant" if leg["delta_available"] > 0 else "spend"


ITEM_KINDS = {
    ItemEventType.GRANTED: "grant",
    ItemEventType.IMPORTED: "grant",
    ItemEventType.USED: "redemption",
    ItemEventType.EXPIRED: "expiry",
}


def _item_row(event: dict, *, given_away: bool) -> dict:
    if event["event_type"] == ItemEventType.TRANSFERRED:
        kind = "sale" if given_away else "purchase"
    elif event["event_type"] == ItemEventType.GIFTED:
        kind = "gift_sent" if given_away else "gift_received"
    else:
        kind = ITEM_KINDS[event["event_type"]]
    exchanged = event["event_type"] in GIVEN_AWAY_EVENTS
    return {
        "id": f"item:{event['id']}",
        "kind": kind,
        "created_at": event["created_at"],
        "asset_code": None,
        "delta_available": None,
        "delta_frozen": None,
        "item_instance_id": event["item_id"],
        "item_type": event["item_type"],
        "item_name": event["item_name"],
        "counterparty": masked(event["to_owner_name"] if given_away else event["from_owner_name"])
        if exchanged
        else None,
        "reference": event["business_ref"],
    }
