"""Demo data for a development database: users with known passwords and some balances.

Safe to run again: users are reused and every grant is keyed, so nothing is doubled.
"""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from items.services import item_grant
from ledger.services import balance_change
from redemption.services import merchant_get_or_create, merchant_staff_add

DEMO_USERS = [
    # username, password, is_staff, is_superuser, grants
    ("admin", "admin-demo-pass", True, True, {}),
    ("merchant", "merchant-demo-pass", True, False, {}),
    ("alice", "alice-demo-pass", False, False, {"DIAMOND": 1000, "red_shard": 25, "blue_crystal": 3}),
    ("bob", "bob-demo-pass", False, False, {"DIAMOND": 250, "green_shard": 40, "red_crystal": 2}),
]


class Command(BaseCommand):
    help = "Create demo customers, a merchant staff user and an admin, with balances granted through the ledger."

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
            role = "admin" if is_superuser else "merchant staff" if is_staff else "customer"
            self.stdout.write(f"  {username:<10} {password:<20} {role}")
        self.seed_redemption(users)

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
