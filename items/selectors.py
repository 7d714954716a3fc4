"""Reads of the items track for the API and the admin."""

import hashlib

import orjson
from django.db.models import F, OuterRef, QuerySet, Subquery

from core.json_sql import JSONKey, JSONKind, JSONObjectBytes
from core.selectors import backpack_version
from items.exceptions import ItemNotFound
from items.models import ItemInstance, ItemInstanceEvent, ItemStatus
from ledger.selectors import asset_catalog_rows

BACKPACK_STATUSES = (ItemStatus.AVAILABLE, ItemStatus.LOCKED)


def items_for_owner(*, owner_id: int, status: str | None = None, item_type: str | None = None) -> QuerySet:
    items = ItemInstance.objects.filter(owner_id=owner_id)
    if status:
        items = items.filter(status=status)
    if item_type:
        items = items.filter(item_type=item_type)
    return items


def item_get_for_owner(*, owner_id: int, item_id: int) -> ItemInstance:
    """The owner's item; anybody else's is as good as missing."""
    item = ItemInstance.objects.filter(pk=item_id, owner_id=owner_id).first()
    if item is None:
        raise ItemNotFound(item_id=item_id)
    return item


def item_merchant_code(*, item_id: OuterRef) -> Subquery:
    """The merchant code of the item `item_id` names, as a subquery of another app's query (it locks nothing)."""
    return Subquery(ItemInstance.objects.filter(pk=item_id).values("merchant_code"))


def item_events(*, item_id: int) -> QuerySet:
    return ItemInstanceEvent.objects.filter(item_id=item_id).order_by("-id")


# A backpack item's JSON, key by key in the order the API has always sent: the SQL of `backpack_items_json`
# and the schema's items.api.serializers.BackpackItemOutputSerializer are both built from it.
BACKPACK_ITEM_KEYS = (
    JSONKey("item_type", JSONKind.IDENTIFIER),
    JSONKey("name", JSONKind.STRING),
    JSONKey("status", JSONKind.IDENTIFIER),
    JSONKey("locked_at", JSONKind.DATETIME, nullable=True),
    JSONKey("expires_at", JSONKind.DATETIME, nullable=True),
    JSONKey("created_at", JSONKind.DATETIME),
    JSONKey("updated_at", JSONKind.DATETIME),
    JSONKey("item_instance_id", JSONKind.INTEGER, column="id"),
    JSONKey(
        "locked_by_order_id",
        JSONKind.STRING,
        column="locked_by",
        nullable=True,
        help_text=(
            "Named so for existing clients, it holds whatever locks the item, as '<kind>:<reference>': "
            "'redemption:<order uuid>' for a pending redemption order, 'market:<listing id>' for a "
            "listing on sale. Null when the item is not locked."
        ),
    ),
    JSONKey("meta", JSONKind.JSON),
)


def backpack_items_json(*, owner_id: int, status: str | None = None, item_type: str | None = None) -> bytes:
    """The owner's available and locked items, newest first, as the JSON array the API sends (one query).

    The database writes each item's JSON (core/json_sql.py) with the bytes orjson wrote when the rows were
    dicts: the same keys in the same order, `meta` as stored. Python only joins the rows.
    """
    items = ItemInstance.objects.filter(owner_id=owner_id, status__in=[status] if status else BACKPACK_STATUSES)
    if item_type:
        items = items.filter(item_type=item_type)
    rows = items.order_by("-created_at", "-id").values_list(JSONObjectBytes.of(BACKPACK_ITEM_KEYS), flat=True)
    return b"[" + b",".join(rows) + b"]"


# Part of every backpack ETag: a change to how the backpack is written must change it too.
BACKPACK_FORMAT = 1


def backpack_etag(*, user_id: int, status: str | None = None, item_type: str | None = None) -> str:
    """The strong ETag of the user's backpack with these filters (two small queries, no items or balances).

    Read before the content, each read seeing what was committed when it started: content read after its
    tag can only be newer than the tag says (the next request gets a new tag and the full backpack), never
    older. The asset catalog (names, icons, categories, order: edited in the admin) is in the tag as read.
    """
    version = backpack_version(user_id=user_id)
    catalog = asset_catalog_rows()
    fingerprint = orjson.dumps([BACKPACK_FORMAT, user_id, status, item_type, catalog])
    return f'"{version}-{hashlib.blake2b(fingerprint, digest_size=12).hexdigest()}"'


def imported_items(*, source: str) -> list[tuple[str, int, int]]:
    """(source_ref, item id, owner id) of every item of a source, for reconciliation."""
    return list(ItemInstance.objects.filter(source=source).values_list("source_ref", "pk", "owner_id"))


def items_locked(*, holder_prefix: str = "") -> QuerySet:
    """Locked items whose `locked_by` starts with `holder_prefix`: a queryset for a holder to check its locks against."""
    return ItemInstance.objects.filter(status=ItemStatus.LOCKED, locked_by__startswith=holder_prefix)


def item_events_page_for_user(
    *, user_id: int, given_away: bool, event_types, before_id: int | None, limit: int
) -> list[dict]:
    """Up to `limit` item events of `event_types` below `before_id`, newest first, in one query: those that
    left an item with the user (`given_away` false: to_owner is the user), or those that took an item from
    them to somebody else (true: sales and gifts). With the item's name and type and both owners' names."""
    if given_away:
        events = ItemInstanceEvent.objects.filter(from_owner_id=user_id).exclude(to_owner_id=user_id)
    else:
        events = ItemInstanceEvent.objects.filter(to_owner_id=user_id)
    events = events.filter(event_type__in=event_types)
    if before_id is not None:
        events = events.filter(pk__lt=before_id)
    return list(
        events.order_by("-id").values(
            "id",
            "event_type",
            "business_ref",
            "created_at",
            "item_id",
            item_type=F("item__item_type"),
            item_name=F("item__name"),
            from_owner_name=F("from_owner__username"),
            to_owner_name=F("to_owner__username"),
        )[:limit]
    )
