import factory
from django.contrib.auth import get_user_model

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
