"""Demo data for a development database: one user of each role (SPEC §10), balances and items, and a
month of market and counter history so that the price charts, the book and the operations dashboard
open with something in them.

Safe to run again: users are reused, every grant is keyed, and the history is made once, in one
transaction, so nothing is doubled.
"""

import contextlib
import math
from datetime import datetime, timedelta
from unittest import mock

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from core.authority import ISSUER_GROUP, OPERATOR_GROUP
from core.errors import BackpackError
from core.models import IssuerKey
from core.services import issuer_key_create
from items.services import item_grant
from ledger.services import asset_grant
from market.buy_order_services import buy_order_place
from market.selectors import listings_for_seller, trade_made_with_key
from market.services import listing_create, listing_purchase
from operations.reconciliation import reconciliation_run
from redemption.services import merchant_get_or_create, merchant_staff_add, order_create, order_fulfil, order_lookup

DEMO_USERS = [
    # username, password (None: no password login), role, grants
    ("admin", "admin-demo-pass", "superuser", {}),
    ("operator", "operator-demo-pass", "operator", {}),
    ("issuer", None, "prize issuer", {}),
    ("merchant", "merchant-demo-pass", "merchant staff", {}),
    ("alice", "alice-demo-pass", "customer", {"DIAMOND": 1000, "red_shard": 25, "blue_crystal": 3}),
    ("bob", "bob-demo-pass", "customer", {"DIAMOND": 250, "green_shard": 40, "red_crystal": 2}),
    # The traders of the month of history (seed_history), and of the bids resting on the book.
    ("carol", "carol-demo-pass", "customer", {"DIAMOND": 5000, "green_shard": 150}),
    ("dave", "dave-demo-pass", "customer", {"DIAMOND": 2000, "red_shard": 200}),
]
ROLE_GROUPS = {"operator": OPERATOR_GROUP, "prize issuer": ISSUER_GROUP}
ISSUER_KEY_NAME = "demo lottery engine"

DEMO_ITEMS = [
    # owner, item_type, name, meta, days until expiry
    ("alice", "voucher", "¥20 voucher", {"description": "¥20 off any meal", "value": 2000, "icon": "🎟"}, 30),
    ("alice", "voucher", "Free drink", {"description": "One soft drink", "value": 800, "icon": "🥤"}, 7),
    ("alice", "product", "Branded chopsticks", {"description": "A pair of lacquered chopsticks", "icon": "🥢"}, None),
    ("alice", "service", "VIP table card", {"description": "Priority seating for a month", "icon": "💳"}, 30),
    ("bob", "equipment", "Lucky apron", {"description": "+5% shard drop rate", "icon": "🧑‍🍳"}, None),
    ("bob", "voucher", "¥50 voucher", {"description": "¥50 off a bill over ¥200", "value": 5000, "icon": "🎟"}, 30),
]

DEMO_LISTINGS = [
    # seller, asset, quantity, unit price in DIAMOND
    ("alice", "red_shard", 10, 12),
    ("alice", "blue_crystal", 1, 150),
    ("bob", "green_shard", 15, 8),
]

DEMO_BIDS = [
    # buyer, asset, quantity, max unit price in DIAMOND: under the cheapest demo asks, so they rest
    ("carol", "red_shard", 5, 10),
    ("carol", "red_shard", 3, 11),
    ("dave", "green_shard", 10, 6),
]
HISTORY_DAYS = 30
# The key of the history's last purchase (day 1): made in the one transaction with all the rest.
HISTORY_MARKER = "seed-history-1-red"


@contextlib.contextmanager
def clock_at(moment: datetime):
    """Every `timezone.now()` answers `moment`: the history goes through the services as it happened then."""
    with mock.patch("django.utils.timezone.now", return_value=moment):
        yield


class Command(BaseCommand):
    help = "Create a demo user of each role, with balances and items granted by the demo issuer through the services."

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="Run even when DEBUG is off.")

    def handle(self, *args, force=False, **options):
        if not settings.DEBUG and not force:
            raise CommandError("seed_demo creates users with known passwords; it runs only with DEBUG on (or --force).")
        User = get_user_model()
        self.stdout.write("Demo logins (username / password / role):")
        users = {}
        for username, password, role, _ in DEMO_USERS:
            user, _ = User.objects.get_or_create(username=username)
            # is_staff only opens the admin's door; what each may do comes from its role.
            user.is_staff = role in ("superuser", "operator", "merchant staff")
            user.is_superuser = role == "superuser"
            if password:
                user.set_password(password)
            else:
                user.set_unusable_password()
            user.save()
            if role in ROLE_GROUPS:
                Group.objects.get(name=ROLE_GROUPS[role]).user_set.add(user)
            users[username] = user
            self.stdout.write(f"  {username:<10} {password or '(API key only)':<20} {role}")
        self.seed_issuer_key(users["issuer"])
        issuer = users["issuer"]
        for username, _, _, grants in DEMO_USERS:
            user = users[username]
            for asset_code, amount in grants.items():
                asset_grant(
                    actor=issuer,
                    user_id=user.pk,
                    asset_code=asset_code,
                    amount=amount,
                    business_type="seed_demo",
                    business_id=f"{username}:{asset_code}",
                )
            for n, (owner, item_type, name, meta, days) in enumerate(DEMO_ITEMS):
                if owner == username:
                    item_grant(
                        actor=issuer,
                        owner_id=user.pk,
                        item_type=item_type,
                        name=name,
                        meta=meta,
                        expires_at=user.date_joined + timedelta(days=days) if days else None,
                        source="seed_demo",
                        source_ref=f"item-{n}",
                    )
        merchant = self.seed_redemption(users)
        self.seed_history(users, merchant)
        self.seed_listings(users)
        self.seed_bids(users)

    def seed_listings(self, users):
        """Market listings for the demo customers, each created once (a rerun finds it, whatever its status)."""
        for username, asset_code, quantity, unit_price in DEMO_LISTINGS:
            seller = users[username]
            if not listings_for_seller(seller_id=seller.pk).filter(asset_id=asset_code).exists():
                listing_create(seller_id=seller.pk, asset_code=asset_code, quantity=quantity, unit_price=unit_price)
            self.stdout.write(f"  market: {username} sells {quantity} {asset_code} at {unit_price} DIAMOND each")

    def seed_redemption(self, users):
        merchant = merchant_get_or_create(code="DEMO01", name="Demo Noodle House")
        merchant_staff_add(merchant_id=merchant.pk, user_id=users["merchant"].pk)
        item_grant(
            actor=users["issuer"],
            owner_id=users["alice"].pk,
            item_type="voucher",
            name="Beef noodles voucher",
            source="seed_demo",
            source_ref="alice:voucher-DEMO01",
            meta={"description": "One bowl of beef noodles", "value": 3800, "icon": "🍜"},
            merchant_code=merchant.code,
        )
        self.stdout.write(f"Merchant {merchant.code} ({merchant.name}): staff 'merchant'; alice has a voucher for it.")
        return merchant

    def seed_bids(self, users):
        for n, (username, asset_code, quantity, max_unit_price) in enumerate(DEMO_BIDS):
            buy_order_place(
                buyer_id=users[username].pk,
                asset_code=asset_code,
                quantity=quantity,
                max_unit_price=max_unit_price,
                idempotency_key=f"seed-bid-{n}",
            )
            self.stdout.write(f"  market: {username} bids for {quantity} {asset_code} at {max_unit_price} DIAMOND")

    def seed_history(self, users, merchant):
        """A month of trades (purchases and buy order fills), redemptions and nightly reconciliation runs,
        each made through the services at its time. Before the demo listings exist, at prices under them, so
        nothing of it crosses the book left behind."""
        carol, dave = users["carol"], users["dave"]
        if trade_made_with_key(buyer_id=carol.pk, idempotency_key=HISTORY_MARKER):
            self.stdout.write("History: made before.")
            return
        midnight = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
        with transaction.atomic():
            for day in range(HISTORY_DAYS, 0, -1):
                start = midnight - timedelta(days=day)
                red = 9 + round(1.5 * math.sin(day / 4))  # 8 to 11, under alice's ask of 12
                green = 5 + round(math.sin(day / 3))  # 4 to 6; dave's bids at one more, under bob's 8
                with clock_at(start + timedelta(hours=2)):
                    reconciliation_run()
                with clock_at(start + timedelta(hours=10)):
                    listing_create(seller_id=dave.pk, asset_code="red_shard", quantity=3, unit_price=red)
                    buy_order_place(
                        buyer_id=carol.pk,
                        asset_code="red_shard",
                        quantity=3,
                        max_unit_price=red,
                        idempotency_key=f"seed-history-{day}-red-bid",
                    )
                with clock_at(start + timedelta(hours=12)):
                    self.history_redemption(users, merchant, day)
                with clock_at(start + timedelta(hours=14)):
                    listing = listing_create(seller_id=dave.pk, asset_code="red_shard", quantity=2, unit_price=red)
                    listing_purchase(
                        listing_id=listing.pk, buyer_id=carol.pk, quantity=2, idempotency_key=f"seed-history-{day}-red"
                    )
                with clock_at(start + timedelta(hours=16)):
                    listing_create(seller_id=carol.pk, asset_code="green_shard", quantity=4, unit_price=green)
                    buy_order_place(
                        buyer_id=dave.pk,
                        asset_code="green_shard",
                        quantity=4,
                        max_unit_price=green + 1,
                        idempotency_key=f"seed-history-{day}-green-bid",
                    )
        self.stdout.write(
            f"History: {HISTORY_DAYS} days of trades and buy order fills (carol and dave), redemptions at "
            f"{merchant.code} and nightly reconciliation runs."
        )

    def history_redemption(self, users, merchant, day: int):
        """A voucher of carol's redeemed at the demo merchant; every fifth day a mistyped code first."""
        voucher, _ = item_grant(
            actor=users["issuer"],
            owner_id=users["carol"].pk,
            item_type="voucher",
            name="Dumplings voucher",
            source="seed_demo",
            source_ref=f"history-voucher-{day}",
            meta={"description": "A basket of dumplings", "value": 2800, "icon": "🥟"},
            merchant_code=merchant.code,
        )
        code = order_create(item_id=voucher.pk, user_id=users["carol"].pk).code
        staff = users["merchant"].pk
        if day % 5 == 0:
            with contextlib.suppress(BackpackError):
                order_lookup(code=code[::-1], staff_user_id=staff)
        order_fulfil(code=code, staff_user_id=staff)

    def seed_issuer_key(self, issuer):
        """The demo issuer's API key, made once: its plain text is printed then and never again."""
        if IssuerKey.objects.filter(issuer=issuer, name=ISSUER_KEY_NAME, revoked=False).exists():
            self.stdout.write(f"  issuer's API key {ISSUER_KEY_NAME!r} exists (rotate it in the admin for a new one)")
            return
        _, plain = issuer_key_create(issuer_id=issuer.pk, name=ISSUER_KEY_NAME)
        self.stdout.write(f"  issuer's API key (shown once): {plain}  -> header 'Authorization: Api-Key {plain}'")
