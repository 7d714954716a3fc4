"""Shared set-ups of the market tests: items through the items service, balances through the ledger."""

import itertools

from items.services import item_grant
from ledger import selectors

_item_refs = itertools.count(1)


def give_item(user, *, item_type="voucher", name="Free lunch"):
    item, _ = item_grant(
        owner_id=user.pk, item_type=item_type, name=name, source="test", source_ref=f"market-{next(_item_refs)}"
    )
    return item


def available(user, asset_code="DIAMOND") -> int:
    return selectors.balance_get(user_id=user.pk, asset_code=asset_code)["available_amount"]


def frozen(user, asset_code="DIAMOND") -> int:
    return selectors.balance_get(user_id=user.pk, asset_code=asset_code)["frozen_amount"]
