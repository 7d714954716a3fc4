"""Issuance limits (SPEC §10): minting is capped at the source, since reconciliation cannot see it."""

import pytest
from django.contrib.auth.models import Permission

from ledger.exceptions import IdempotencyConflict, IssuanceLimitExceeded
from ledger.models import IssuanceDay, IssuanceLimit, JournalEntry
from ledger.selectors import balance_get
from ledger.services import asset_grant
from operations.models import Alert
from tests.factories import IssuerFactory, StaffFactory, UserFactory

LIMITS = {"*": {"per_grant": 100, "per_day": 250}}


@pytest.fixture(autouse=True)
def limits(settings):
    settings.ISSUANCE_LIMITS = LIMITS


def mint(actor, user, amount, key):
    return asset_grant(
        actor=actor,
        user_id=user.pk,
        asset_code="DIAMOND",
        amount=amount,
        business_type="lottery_prize",
        business_id=key,
    )


def granted_today(issuer) -> int:
    return sum(IssuanceDay.objects.filter(issuer=issuer).values_list("amount", flat=True))


@pytest.mark.django_db
def test_a_grant_over_the_per_grant_limit_posts_nothing_and_alerts(user):
    issuer = IssuerFactory()

    with pytest.raises(IssuanceLimitExceeded):
        mint(issuer, user, 101, "big")

    assert not JournalEntry.objects.filter(business_id="big").exists()
    assert balance_get(user_id=user.pk, asset_code="DIAMOND")["available_amount"] == 0
    assert Alert.objects.get().source == "issuance_limit"


@pytest.mark.django_db
def test_grants_add_up_to_the_daily_limit_and_no_further(user):
    issuer = IssuerFactory()
    mint(issuer, user, 100, "a")
    mint(issuer, user, 100, "b")

    with pytest.raises(IssuanceLimitExceeded):
        mint(issuer, user, 51, "c")

    mint(issuer, user, 50, "d")
    assert granted_today(issuer) == 250
    assert balance_get(user_id=user.pk, asset_code="DIAMOND")["available_amount"] == 250


@pytest.mark.django_db
def test_a_replay_counts_once(user):
    issuer = IssuerFactory()

    first = mint(issuer, user, 100, "same")
    again = mint(issuer, user, 100, "same")

    assert (first.created, again.created, again.entry.pk) == (True, False, first.entry.pk)
    assert granted_today(issuer) == 100


@pytest.mark.django_db
def test_another_actor_cannot_replay_an_issuers_key(user):
    mint(IssuerFactory(), user, 10, "k")

    with pytest.raises(IdempotencyConflict):
        mint(IssuerFactory(), user, 10, "k")


@pytest.mark.django_db
def test_an_override_in_the_admin_raises_one_issuers_limit(user):
    issuer, other = IssuerFactory(), IssuerFactory()
    IssuanceLimit.objects.create(issuer=issuer, asset_id="DIAMOND", max_per_grant=1000, max_per_day=1000)

    mint(issuer, user, 1000, "raised")
    with pytest.raises(IssuanceLimitExceeded):
        mint(other, user, 1000, "not raised")


@pytest.mark.django_db
def test_superusers_are_not_exempt(user):
    with pytest.raises(IssuanceLimitExceeded):
        mint(StaffFactory(is_superuser=True), user, 101, "root")


@pytest.mark.django_db
def test_staff_without_the_permission_cannot_grant_at_all(user):
    cashier = StaffFactory()

    with pytest.raises(Exception) as refused:
        mint(cashier, user, 1, "cashier")

    assert refused.value.code == "forbidden"
    assert not JournalEntry.objects.filter(business_id="cashier").exists()


@pytest.mark.django_db
def test_the_api_answers_409_issuance_limit_exceeded(client_for, user):
    service = UserFactory()
    service.user_permissions.add(Permission.objects.get(codename="grant_assets"))
    body = {"user_id": user.pk, "asset_code": "DIAMOND", "amount": 101, "business_type": "prize", "business_id": "x"}

    response = client_for(service).post("/api/v4/grants/assets", body, format="json")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "issuance_limit_exceeded"


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_grants_never_pass_the_daily_limit_together(run_in_threads):
    issuer, user = IssuerFactory(), UserFactory()

    results = run_in_threads(lambda n: mint(issuer, user, 60, f"race-{n}"), 8)

    granted = [r for r in results if not isinstance(r, Exception)]
    assert all(isinstance(r, IssuanceLimitExceeded) for r in results if isinstance(r, Exception))
    assert len(granted) == 4  # 4 x 60 = 240 <= 250 < 5 x 60
    assert granted_today(issuer) == 240
    assert balance_get(user_id=user.pk, asset_code="DIAMOND")["available_amount"] == 240
