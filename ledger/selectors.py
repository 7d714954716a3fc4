"""Reads of the assets track for the API and the admin."""

from collections.abc import Callable, Collection
from typing import NamedTuple

from django.conf import settings
from django.db.models import F, Q, QuerySet, Sum

from ledger.exceptions import AssetNotFound
from ledger.models import Account, AssetType, Balance, Hold, HoldStatus, IssuanceLimit, JournalLeg

BALANCE_FIELDS = ("asset_code", "name", "icon", "type", "available_amount", "frozen_amount", "total_amount")


def balance_get(*, user_id: int, asset_code: str) -> dict:
    """A user's balance of one asset; zeros when there is none yet."""
    row = (
        Balance.objects.filter(account__user_id=user_id, asset_id=asset_code)
        .values("available_amount", "frozen_amount")
        .first()
    )
    row = row or {"available_amount": 0, "frozen_amount": 0}
    return {"asset_code": asset_code, **row, "total_amount": row["available_amount"] + row["frozen_amount"]}


def balances_for_user(*, user_id: int) -> list[dict]:
    """The user's non-zero balances with their catalog data, in catalog order (one query)."""
    rows = (
        Balance.objects.filter(account__user_id=user_id)
        .exclude(available_amount=0, frozen_amount=0)
        .order_by("asset__display_order", "asset_id")
        .values(
            "available_amount",
            "frozen_amount",
            asset_code=F("asset_id"),
            name=F("asset__name"),
            icon=F("asset__icon"),
            type=F("asset__category"),
        )
    )
    return [{**row, "total_amount": row["available_amount"] + row["frozen_amount"]} for row in rows]


def system_accounts_of(code: str) -> QuerySet:
    """The accounts of a system code: the code itself and, for a slotted account, its slots "<code>:<n>"."""
    return Account.objects.filter(Q(system_code=code) | Q(system_code__startswith=f"{code}:"))


def system_balance(*, code: str, asset_code: str) -> int:
    """A system account's available balance of an asset, summed over its slots (ledger/models.py)."""
    rows = Balance.objects.filter(account__in=system_accounts_of(code), asset_id=asset_code)
    return rows.aggregate(total=Sum("available_amount"))["total"] or 0


def asset_catalog_rows() -> list[tuple]:
    """The catalog as the backpack shows it, (code, name, icon, category, display order) by code: what an ETag
    of a response that shows assets must cover."""
    return list(AssetType.objects.order_by("pk").values_list("asset_code", "name", "icon", "category", "display_order"))


def legs_for_user(*, user_id: int, asset_code: str | None = None) -> QuerySet:
    """The user's journal legs, newest first, with their entry's business key."""
    legs = JournalLeg.objects.filter(account__user_id=user_id).select_related("entry").order_by("-id")
    if asset_code:
        legs = legs.filter(asset_id=asset_code)
    return legs


def entry_user_leg(*, entry_id: int) -> JournalLeg:
    """The leg of an entry that touches a user account (a grant has exactly one)."""
    return JournalLeg.objects.select_related("entry", "account").get(entry_id=entry_id, account__user__isnull=False)


def asset_codes_by_legacy_name() -> dict[str, str]:
    """{legacy name: asset code} from the catalog (editable in the admin)."""
    mapping = {}
    for asset_code, names in AssetType.objects.values_list("asset_code", "legacy_names"):
        for name in names or []:
            mapping[name.strip()] = asset_code
    return mapping


def user_net_deltas(*, business_types: list[str]) -> dict[tuple[int, str], int]:
    """{(user id, asset code): net change of available} over the entries of some business types."""
    rows = (
        JournalLeg.objects.filter(entry__business_type__in=business_types, account__user__isnull=False)
        .values("account__user_id", "asset_id")
        .annotate(net=Sum("delta_available"))
    )
    return {(row["account__user_id"], row["asset_id"]): row["net"] for row in rows if row["net"]}


def journal_sums(*, account_id: int, asset_code: str) -> dict:
    """What the journal says one balance is: its legs added up, available and frozen apart."""
    sums = JournalLeg.objects.filter(account_id=account_id, asset_id=asset_code).aggregate(
        available=Sum("delta_available", default=0), frozen=Sum("delta_frozen", default=0)
    )
    return {"available": int(sums["available"]), "frozen": int(sums["frozen"])}


def holds_open(*, business_type: str) -> QuerySet:
    """Open holds created by entries of `business_type` (e.g. "market_listing"): a queryset to nest or filter."""
    return Hold.objects.filter(status=HoldStatus.OPEN, entry__business_type=business_type)


def issuance_limit(*, issuer_id: int, asset_code: str) -> tuple[int, int]:
    """(max per grant, max per day) of an issuer for an asset: its admin override, else the settings'."""
    override = (
        IssuanceLimit.objects.filter(issuer_id=issuer_id, asset_id=asset_code)
        .values_list("max_per_grant", "max_per_day")
        .first()
    )
    if override:
        return override
    defaults = settings.ISSUANCE_LIMITS.get(asset_code, settings.ISSUANCE_LIMITS["*"])
    return defaults["per_grant"], defaults["per_day"]


def asset_get(*, asset_code: str) -> dict:
    """One asset of the catalog, its code matched exactly (`diamond` is not `DIAMOND`, whatever the collation)."""
    row = AssetType.objects.filter(pk=asset_code).values("asset_code", "name", "icon", "is_tradable").first()
    if row is None or row["asset_code"] != asset_code:
        raise AssetNotFound(asset_code=asset_code)
    return row


def assets_by_code(*, asset_codes: Collection[str]) -> dict[str, AssetType]:
    """The catalog's assets with these codes, keyed by the code as stored (a code that differs in case only
    matches through the case-blind collation, under the stored key, not the one asked for)."""
    return {asset.pk: asset for asset in AssetType.objects.filter(pk__in=asset_codes)}


def assets_tradable() -> QuerySet:
    """The tradable assets in catalog order: a queryset for other apps to annotate (one row per asset)."""
    return AssetType.objects.filter(is_tradable=True).order_by("display_order", "asset_code")


def asset_codes() -> list[str]:
    """Every asset code of the catalog, in catalog order (price assets for forms)."""
    return list(AssetType.objects.order_by("display_order", "asset_code").values_list("asset_code", flat=True))


def legs_page_for_user(*, user_id: int, before_id: int | None, limit: int) -> list[dict]:
    """Up to `limit` of the user's journal legs with an id below `before_id`, newest first, with their
    entry's business key: one query (the accounts row, then the legs by the account index)."""
    legs = JournalLeg.objects.filter(account__user_id=user_id)
    if before_id is not None:
        legs = legs.filter(pk__lt=before_id)
    return list(
        legs.order_by("-id").values(
            "id",
            "entry_id",
            "delta_available",
            "delta_frozen",
            "created_at",
            asset_code=F("asset_id"),
            business_type=F("entry__business_type"),
            business_id=F("entry__business_id"),
        )[:limit]
    )


class EntryParties(NamedTuple):
    """Who took part in an entry, as the row of the app that owns its business type says: the one who asked
    (a buyer) and the other (the seller)."""

    initiator_id: int
    initiator_name: str
    other_id: int
    other_name: str


# {business type: read(entry ids) -> {entry id: EntryParties}}, registered by the app that posts that type
# (market: its trades) when it loads; readers of the journal ask it instead of parsing business ids or meta.
_ENTRY_PARTIES: dict[str, Callable[[list[int]], dict[int, EntryParties]]] = {}


def entry_parties_register(business_type: str, read: Callable[[list[int]], dict[int, EntryParties]]) -> None:
    _ENTRY_PARTIES[business_type] = read


def entry_parties(*, entry_ids_by_type: dict[str, list[int]]) -> dict[int, EntryParties]:
    """{entry id: its parties} for the entries of each business type that its owner has a row for: one query
    per owner's reader, however many of its types are asked."""
    asked: dict[Callable, list[int]] = {}
    for business_type, entry_ids in entry_ids_by_type.items():
        read = _ENTRY_PARTIES.get(business_type)
        if read is not None and entry_ids:
            asked.setdefault(read, []).extend(entry_ids)
    parties = {}
    for read, entry_ids in asked.items():
        parties.update(read(entry_ids))
    return parties
