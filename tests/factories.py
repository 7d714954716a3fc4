import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from core.authority import ISSUER_GROUP, OPERATOR_GROUP

PASSWORD = "secret-pass-123"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.com")
    password = factory.django.Password(PASSWORD)


class StaffFactory(UserFactory):
    is_staff = True


class ItemFactory(factory.django.DjangoModelFactory):
    """An item row as a test's starting point; transitions always go through items.services."""

    class Meta:
        model = "items.ItemInstance"

    owner = factory.SubFactory(UserFactory)
    item_type = "voucher"
    name = factory.Sequence(lambda n: f"Voucher {n}")
    meta = factory.LazyFunction(lambda: {"value": 2000})
    source = "test"
    source_ref = factory.Sequence(str)


class MerchantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "redemption.Merchant"

    code = factory.Sequence(lambda n: f"M{n:04d}")
    name = factory.Sequence(lambda n: f"Merchant {n}")


def _join(group_name: str):
    """A post-generation hook putting the user in a role group (operations/migrations/0002_roles.py)."""

    def hook(user, create, extracted, **kwargs):
        if create:
            user.groups.add(Group.objects.get(name=group_name))

    return factory.PostGeneration(hook)


class OperatorFactory(StaffFactory):
    class Meta:
        skip_postgeneration_save = True

    role = _join(OPERATOR_GROUP)


class IssuerFactory(UserFactory):
    """The lottery engine's service account: it calls the API with an API key, never a password."""

    password = factory.django.Password(None)

    class Meta:
        skip_postgeneration_save = True

    role = _join(ISSUER_GROUP)


class RedemptionAttemptFactory(factory.django.DjangoModelFactory):
    """A lookup or fulfil as the verification service records it, for the failure-rate alert and the metrics."""

    class Meta:
        model = "redemption.RedemptionAttempt"

    kind = "lookup"
    outcome = "ok"
    staff_user = factory.SubFactory(StaffFactory)


class LegacyInventoryFactory(factory.django.DjangoModelFactory):
    """A row of the old system's `user_inventory` as it left it. The model refuses save(): a bulk insert."""

    class Meta:
        model = "legacy_inventory.LegacyInventory"

    user_id = factory.LazyFunction(lambda: UserFactory().pk)
    name = "¥20代金券"
    type = "voucher"
    status = "available"
    created_at = factory.LazyFunction(timezone.now)
    updated_at = factory.LazyAttribute(lambda row: row.created_at)

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return model_class.objects.bulk_create([model_class(*args, **kwargs)])[0]


# Operations' own records: no service writes them for the tests to go through.


class WebhookEndpointFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "operations.WebhookEndpoint"

    url = factory.Sequence(lambda n: f"http://127.0.0.1:9/hooks/{n}")
    secret = "webhook-secret"
    event_types = factory.LazyFunction(lambda: ["*"])


class ReconciliationRunFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "operations.ReconciliationRun"


class AlertFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "operations.Alert"

    source = "test"
    message = factory.Sequence(lambda n: f"alert {n}")
