"""The backpack whose items' JSON the database writes is byte for byte the one Python wrote from dicts.

The reference below is the view's path before issue 14 (rows as dicts, `meta` as stored, orjson). Both
run on the same rich data, on MariaDB (the suite's database) and on SQLite (`make run`'s, in a subprocess
with its own file).
"""

import itertools
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from django.db.models import F, TextField
from django.db.models.functions import Cast
from django.utils import timezone
from rest_framework.test import APIClient

from core.renderers import ORJSONRenderer
from items.models import ItemInstance
from items.selectors import BACKPACK_STATUSES
from items.services import item_expire, item_grant, item_lock
from ledger.selectors import balances_for_user
from ledger.services import balance_change
from market.services import listing_create
from tests.factories import IssuerFactory, UserFactory

ROOT = Path(__file__).resolve().parents[2]
REFS = (str(n) for n in itertools.count(1))
FILTERS = [
    {},
    {"status": "available"},
    {"status": "locked"},
    {"item_type": "voucher"},
    {"item_type": "card"},  # none: an empty list
    {"status": "locked", "item_type": "product"},
]
METAS = [
    {"description": "Set lunch for one", "value": 3800},
    {},
    {"note": 'Café "Le Bon" \\ C:\\u001F 🍜 ✓ \u2028 <b>&</b>', "nested": {"list": [1, 2.5, None, True, "é"]}},
    {"stock": -1, "big": 2**53 + 1, "tiny": 1e-7, "empty": [], "ctrl": "\x00\x01\x1f\n\t"},
]
NAMES = ["Set lunch", 'Café "Le Bon" \\ 🍜', "Tab\there\x0bvertical\x1fend", "C:\\u001F not an escape", "餐券"]


def todays_backpack_bytes(*, user_id: int, status: str | None = None, item_type: str | None = None) -> bytes:
    """The body the backpack view sent before the database wrote the items' JSON."""
    items = ItemInstance.objects.filter(owner_id=user_id, status__in=[status] if status else BACKPACK_STATUSES)
    if item_type:
        items = items.filter(item_type=item_type)
    rows = list(
        items.order_by("-created_at", "-id").values(
            "item_type",
            "name",
            "status",
            "locked_at",
            "expires_at",
            "created_at",
            "updated_at",
            item_instance_id=F("id"),
            locked_by_order_id=F("locked_by"),
            meta_json=Cast("meta", TextField()),
        )
    )
    for row in rows:
        row["meta"] = orjson.Fragment(row.pop("meta_json"))
    return ORJSONRenderer().render({"assets": balances_for_user(user_id=user_id), "items": rows})


# Plain functions, not the suite's fixtures: the SQLite run below calls them outside pytest.
def rich_backpack(owner, other) -> None:
    """Assets (one frozen in a listing, one spent to zero) and items of every type and backpack status, with
    names and metas that need escaping, expiries null, whole-second and fractional, and someone else's."""
    issuer = IssuerFactory()
    credit(owner, "DIAMOND", 50)
    credit(owner, "red_shard", 12)
    credit(owner, "blue_shard", 2)
    balance_change(user_id=owner.pk, asset_code="blue_shard", delta=-2, business_type="spend", business_id="b")
    listing_create(seller_id=owner.pk, asset_code="red_shard", quantity=5, unit_price=30)
    credit(other, "green_shard", 3)

    whole_second = datetime(2031, 5, 17, 8, 0, tzinfo=UTC)
    expiries = [None, whole_second, timezone.now() + timedelta(days=30), None, whole_second + timedelta(microseconds=5)]
    types = ["voucher", "product", "service", "equipment", "card"]
    items = []
    for n in range(12):
        items.append(
            item_grant_for(
                issuer,
                owner,
                item_type=types[n % 4],  # no card: a filter that finds nothing
                name=NAMES[n % len(NAMES)],
                meta=METAS[n % len(METAS)],
                expires_at=expiries[n % len(expiries)],
            )
        )
    item_lock(item_id=items[1].pk, locked_by="redemption:8f14e45f-ceea-467f-a0e6-a1b2c3d4e5f6")
    item_lock(item_id=items[5].pk, locked_by="market:42")
    item_expire(item_id=items[2].pk, even_if_not_due=True)
    item_grant_for(issuer, other, item_type="card", name="Not yours", meta={}, expires_at=None)
    # Two items created in the same whole second: the order falls back to the id, the fraction is left out.
    ItemInstance.objects.filter(pk__in=[items[3].pk, items[4].pk]).update(created_at=whole_second)


def credit(owner, asset_code: str, amount: int) -> None:
    balance_change(
        user_id=owner.pk, asset_code=asset_code, delta=amount, business_type="test_grant", business_id=next(REFS)
    )


def item_grant_for(issuer, owner, **fields):
    item, _ = item_grant(actor=issuer, owner_id=owner.pk, source="bytes", source_ref=next(REFS), **fields)
    return item


def mismatches_on_this_database() -> list[str]:
    """Build the rich backpack and compare each filter's response with today's bytes; the differences."""
    owner, other = UserFactory(), UserFactory()
    rich_backpack(owner, other)
    client = APIClient()
    client.force_authenticate(owner)
    mismatches = []
    for filters in FILTERS:
        response = client.get("/api/v4/backpack", filters)
        expected = todays_backpack_bytes(user_id=owner.pk, **filters)
        if response.status_code != 200 or response.content != expected:
            mismatches.append(f"{filters}: {response.status_code}\n got {response.content!r}\nwant {expected!r}")
    return mismatches


@pytest.mark.django_db
def test_the_database_writes_todays_bytes_on_mariadb():
    assert mismatches_on_this_database() == []


SQLITE_RUN = """
import django
django.setup()
from django.core.management import call_command
from django.test.utils import setup_test_environment
setup_test_environment()
call_command("migrate", verbosity=0)
from tests.items.test_backpack_bytes import mismatches_on_this_database
print("\\n".join(mismatches_on_this_database()) or "same bytes")
"""


def test_the_database_writes_todays_bytes_on_sqlite(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(SQLITE_PATH=str(tmp_path / "db.sqlite3"), DEBUG="1", DJANGO_SETTINGS_MODULE="backpack_site.settings")
    run = subprocess.run(
        [sys.executable, "-c", SQLITE_RUN], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.strip().splitlines()[-1:] == ["same bytes"], run.stdout[-5000:]
