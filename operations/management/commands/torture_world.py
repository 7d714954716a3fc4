"""The cast of a torture run (scripts/torture.py): customers, merchant staff and a prize issuer.

Prints JSON with each one's id, username and a bearer token (minted here: password hashing would
cost a second of CPU per login), and the issuer's API key. Runs only on a database whose name says
"torture": it is the torture run's own throwaway server, never a real one.
"""

import json

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from rest_framework_simplejwt.tokens import AccessToken

from core.authority import ISSUER_GROUP
from core.services import issuer_key_create
from redemption.services import merchant_get_or_create, merchant_staff_add

MERCHANT_CODE = "TORTURE"


class Command(BaseCommand):
    help = "Create the users of a torture run on its own scratch database and print their credentials as JSON."

    def add_arguments(self, parser):
        parser.add_argument("--customers", type=int, default=32)
        parser.add_argument("--staff", type=int, default=4)
        parser.add_argument("--prefix", default="t", help="Usernames start with it.")

    def handle(self, *args, customers, staff, prefix, **options):
        database = str(settings.DATABASES["default"]["NAME"])
        if "torture" not in database:
            raise CommandError(f"torture_world runs only on a torture run's own database, not {database!r}.")
        merchant = merchant_get_or_create(code=MERCHANT_CODE, name="Torture Noodle House")
        staff_users = [self.user(f"{prefix}-staff-{n}", is_staff=True) for n in range(staff)]
        for user in staff_users:
            merchant_staff_add(merchant_id=merchant.pk, user_id=user.pk)
        issuer = self.user(f"{prefix}-issuer")
        Group.objects.get(name=ISSUER_GROUP).user_set.add(issuer)
        _, issuer_key = issuer_key_create(issuer_id=issuer.pk, name="torture lottery engine")
        world = {
            "merchant_code": merchant.code,
            "issuer_key": issuer_key,
            "customers": [self.credentials(self.user(f"{prefix}-customer-{n}")) for n in range(customers)],
            "staff": [self.credentials(user) for user in staff_users],
        }
        self.stdout.write(json.dumps(world))

    @staticmethod
    def user(username: str, *, is_staff: bool = False):
        user, _ = get_user_model().objects.get_or_create(username=username, defaults={"is_staff": is_staff})
        return user

    @staticmethod
    def credentials(user) -> dict:
        return {"id": user.pk, "username": user.username, "token": str(AccessToken.for_user(user))}
