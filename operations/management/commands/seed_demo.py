"""Demo data for a development database: users with known passwords and some balances.

Safe to run again: users are reused and every grant is keyed, so nothing is doubled.
"""

from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from items.services import item_grant
from ledger.services import balance_change
from market.selectors import listings_for_seller
from market.services import listing_create
from redemption.services import merchant_get_or_create, merchant_staff_add

DEMO_USERS = [
    # username, password, is_staff, is_superuser, grants
    ("admin", "admin-demo-pass", True, True, {}),
    ("merchant", "merchant-demo-pass", True, False, {}),
    ("alice", "alice-demo-pass", False, False, {"DIAMOND": 1000, "red_shard": 25, "blue_crystal": 3}),
    ("bob", "bob-demo-pass", False, False, {"DIAMOND": 250, "green_shard": 40, "red_crystal": 2}),
]

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


class Command(BaseCommand):
    help = "Create demo customers, a merchant staff user and an admin, with balances and items granted through the services."

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="Run even when DEBUG is off.")

    def handle(self, *args, force=False, **options):
        if not settings.DEBUG and not force:
            raise CommandError("seed_demo creates users with known passwords; it runs only with DEBUG on (or --force).")
        User = get_user_model()
        self.stdout.write("Demo logins (username / password):")
        users = {}
        for username, password, is_staff, is_superuser, grants in DEMO_USERS:
            user, _ = User.objects.get_or_create(username=username)
            user.is_staff, user.is_superuser = is_staff, is_superuser
            user.set_password(password)
            user.save()
            users[username] = user
            for asset_code, amount in grants.items():
                balance_change(
                    user_id=user.pk,
                    asset_code=asset_code,
                    delta=amount,
                    business_type="seed_demo",
                    business_id=f"{username}:{asset_code}",
                )
            for n, (owner, item_type, name, meta, days) in enumerate(DEMO_ITEMS):
                if owner == username:
                    item_grant(
                        owner_id=user.pk,
                        item_type=item_type,
                        name=name,
                        meta=meta,
                        expires_at=user.date_joined + timedelta(days=days) if days else None,
                        source="seed_demo",
                        source_ref=f"item-{n}",
                    )
            role = "admin" if is_superuser else "merchant staff" if is_staff else "customer"
            self.stdout.write(f"  {username:<10} {password:<20} {role}")
        self.seed_listings(users)
        self.seed_redemption(users)

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
            owner_id=users["alice"].pk,
            item_type="voucher",
            name="Beef noodles voucher",
            source="seed_demo",
            source_ref="alice:voucher-DEMO01",
            meta={"description": "One bowl of beef noodles", "value": 3800, "icon": "🍜"},
            merchant_code=merchant.code,
        )
        self.stdout.write(f"Merchant {merchant.code} ({merchant.name}): staff 'merchant'; alice has a voucher for it.")
