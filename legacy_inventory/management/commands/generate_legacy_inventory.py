"""Realistic rehearsal data for user_inventory: materials under their legacy names, vouchers,
products and services in every status, codes with and without expiry, NULLs where the old
table allowed them, and a few names that map to no asset."""

import random
import secrets
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand
from django.utils import timezone

from legacy_inventory.models import LegacyInventory

MATERIALS = ["红色碎片", "红水晶", "蓝色碎片", "蓝水晶", "绿色碎片", "绿水晶", "钻石"]
UNMAPPED_MATERIALS = ["紫色碎片", "神秘材料"]
ITEMS = {
    "voucher": ["¥10代金券", "¥20代金券", "¥50代金券", "免费饮料券", "甜品券"],
    "product": ["品牌筷子", "定制餐具", "火锅底料礼盒"],
    "service": ["VIP 座位卡", "生日套餐服务", "包间预订"],
}
STATUSES = ["available"] * 50 + ["used"] * 25 + ["expired"] * 12 + ["pending"] * 8 + ["transferred"] * 5


class Command(BaseCommand):
    help = "Fill user_inventory with realistic legacy rows for a rehearsal."

    def add_arguments(self, parser):
        parser.add_argument("--rows", type=int, required=True)
        parser.add_argument("--users", type=int, required=True)
        parser.add_argument("--seed", type=int, default=1)

    def handle(self, *args, rows, users, seed, **options):
        rng = random.Random(seed)
        user_ids = self._users(users, seed)
        now = timezone.now()
        batch = []
        for _ in range(rows):
            batch.append(self._row(rng, rng.choice(user_ids), now))
            if len(batch) == 5000:
                LegacyInventory.objects.bulk_create(batch)
                batch = []
        LegacyInventory.objects.bulk_create(batch)
        self.stdout.write(f"generated {rows} legacy rows for {len(user_ids)} users (seed {seed})")

    def _users(self, count: int, seed: int) -> list[int]:
        User = get_user_model()
        names = [f"legacy_{seed}_{n}" for n in range(count)]
        password = make_password(None)  # unusable: rehearsal users never log in
        User.objects.bulk_create([User(username=name, password=password) for name in names], ignore_conflicts=True)
        return list(User.objects.filter(username__in=names).values_list("pk", flat=True))

    def _row(self, rng: random.Random, user_id: int, now) -> LegacyInventory:
        created = now - timedelta(days=rng.randint(1, 720), seconds=rng.randint(0, 86400))
        status = rng.choice(STATUSES)
        material = rng.random() < 0.35
        if material:
            name = rng.choice(UNMAPPED_MATERIALS) if rng.random() < 0.01 else rng.choice(MATERIALS)
            kind, item_type = rng.choice(["voucher", "product", None]), "material" if rng.random() < 0.6 else None
            status = "available" if rng.random() < 0.7 else rng.choice(["used", "expired"])
        else:
            kind = rng.choice(["voucher"] * 5 + ["product"] * 3 + ["service"] * 2)
            name, item_type = rng.choice(ITEMS[kind]), rng.choice([None, kind, "coupon"])
        has_code = not material and (status == "pending" or (status == "used" and rng.random() < 0.7))
        used = status == "used"
        return LegacyInventory(
            user_id=user_id,
            name=name,
            description=None if rng.random() < 0.3 else f"{name}（活动奖励）",
            type=kind,
            item_type=item_type,
            value=None if rng.random() < 0.2 else rng.choice([500, 1000, 2000, 5000]),
            icon=None if rng.random() < 0.4 else rng.choice(["🎟", "🎁", "💎", "🍵"]),
            status=status,
            verification_code=secrets.token_hex(4).upper() if has_code else None,
            verification_expires_at=created + timedelta(hours=24) if has_code and rng.random() < 0.8 else None,
            operator_id=user_id if used and rng.random() < 0.8 else None,
            used_at=created + timedelta(days=rng.randint(0, 30)) if used else None,
            expires_at=None if rng.random() < 0.5 else created + timedelta(days=rng.choice([30, 90, 365])),
            created_at=created,
            updated_at=created + timedelta(hours=rng.randint(0, 48)),
        )
