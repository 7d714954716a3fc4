"""Code guessing and merchant scope (SPEC §4, §8; issue 12): the limit holds under concurrency, a 429 says when
to come back, the client IP comes from the trusted proxies, and staff learn nothing of other merchants' codes."""

import pytest
from django.test import RequestFactory, override_settings
from rest_framework.test import APIClient

from core.client_ip import client_ip
from redemption.codes import code_generate
from redemption.exceptions import CodeAlreadyUsed, TooManyAttempts, WrongMerchant
from redemption.models import AttemptOutcome, RedemptionAttempt
from redemption.services import order_create, order_fulfil, order_lookup
from tests.factories import MerchantFactory, UserFactory

LOOKUP = "/api/v4/merchant/redemptions/lookup"


def client(user) -> APIClient:
    api = APIClient(raise_request_exception=False)
    api.force_authenticate(user)
    return api


@pytest.mark.django_db
def test_staff_elsewhere_learn_only_that_a_code_was_used_not_when_or_where(
    user, merchant, other_merchant, staff, give_item, staff_for
):
    code = order_create(item_id=give_item(user).pk, user_id=user.pk).code
    order_fulfil(code=code, staff_user_id=staff.pk)
    stranger = staff_for(other_merchant)

    with pytest.raises(CodeAlreadyUsed) as refusal:
        order_lookup(code=code, staff_user_id=stranger.pk)

    assert refusal.value.details == {}
    assert merchant.name not in refusal.value.message
    with pytest.raises(CodeAlreadyUsed) as own:
        order_lookup(code=code, staff_user_id=staff.pk)
    assert own.value.details["merchant"] == merchant.name


@pytest.mark.django_db
def test_a_used_code_restricted_to_another_merchant_is_only_a_wrong_merchant(
    user, merchant, other_merchant, staff, give_item, staff_for
):
    code = order_create(item_id=give_item(user, merchant_code=merchant.code).pk, user_id=user.pk).code
    order_fulfil(code=code, staff_user_id=staff.pk)
    stranger = staff_for(other_merchant)

    response = client(stranger).post(LOOKUP, {"code": code}, format="json")

    assert response.status_code == 403
    error = response.json()["error"]
    assert error["code"] == "wrong_merchant"
    assert merchant.name not in str(error) and "fulfilled" not in str(error)


@pytest.mark.django_db
@override_settings(REDEMPTION_FAILURE_LIMIT=2)
def test_the_429_carries_retry_after(staff):
    api = client(staff)
    for _ in range(2):
        api.post(LOOKUP, {"code": code_generate()}, format="json")

    response = api.post(LOOKUP, {"code": code_generate()}, format="json")

    assert response.status_code == 429
    retry_after = int(response["Retry-After"])
    assert 0 < retry_after <= 600
    assert response.json()["error"]["details"]["retry_after_seconds"] == retry_after


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@override_settings(REDEMPTION_FAILURE_LIMIT=10)
def test_thirty_concurrent_bad_lookups_let_exactly_the_limit_through(run_in_threads, staff_for):
    staff = staff_for(MerchantFactory())
    codes = [code_generate() for _ in range(30)]

    results = run_in_threads(lambda i: order_lookup(code=codes[i], staff_user_id=staff.pk, ip="198.51.100.1"), 30)

    throttled = [r for r in results if isinstance(r, TooManyAttempts)]
    assert len(throttled) == 20
    checked = RedemptionAttempt.objects.exclude(outcome=AttemptOutcome.THROTTLED).count()
    assert checked == 10


@pytest.mark.django_db
@override_settings(REDEMPTION_FAILURE_LIMIT=3, TRUSTED_PROXIES=["10.0.0.0/8"])
def test_behind_a_trusted_proxy_one_guessing_cashier_does_not_lock_out_the_others(merchant, give_item, staff_for):
    guesser, colleague = staff_for(merchant), staff_for(merchant)
    for _ in range(3):
        client(guesser).post(
            LOOKUP, {"code": code_generate()}, format="json", REMOTE_ADDR="10.1.2.3", HTTP_X_FORWARDED_FOR="192.0.2.10"
        )
    user = UserFactory()
    code = order_create(item_id=give_item(user).pk, user_id=user.pk).code

    response = client(colleague).post(
        LOOKUP, {"code": code}, format="json", REMOTE_ADDR="10.1.2.3", HTTP_X_FORWARDED_FOR="192.0.2.11"
    )

    assert response.status_code == 200
    assert set(RedemptionAttempt.objects.values_list("ip", flat=True)) == {"192.0.2.10", "192.0.2.11"}


@pytest.mark.django_db
@override_settings(REDEMPTION_FAILURE_LIMIT=3)
def test_without_trusted_proxies_the_forwarded_header_is_ignored(merchant, staff_for):
    guesser = staff_for(merchant)
    for index in range(3):
        client(guesser).post(LOOKUP, {"code": code_generate()}, format="json", HTTP_X_FORWARDED_FOR=f"192.0.2.{index}")

    assert set(RedemptionAttempt.objects.values_list("ip", flat=True)) == {"127.0.0.1"}


def request_from(remote: str, forwarded: str | None = None):
    extra = {"REMOTE_ADDR": remote} | ({"HTTP_X_FORWARDED_FOR": forwarded} if forwarded is not None else {})
    return RequestFactory().get("/", **extra)


@pytest.mark.parametrize(
    ("remote", "forwarded", "expected"),
    [
        ("203.0.113.9", "1.2.3.4", "203.0.113.9"),  # not from a proxy: the header is the client's own words
        ("10.0.0.5", None, "10.0.0.5"),
        ("10.0.0.5", "198.51.100.7", "198.51.100.7"),
        ("10.0.0.5", "6.6.6.6, 198.51.100.7", "198.51.100.7"),  # a spoofed hop left of the real client
        ("10.0.0.5", "198.51.100.7, 10.0.0.9", "198.51.100.7"),  # two proxies deep
        ("10.0.0.5", "not-an-ip", "10.0.0.5"),
        ("10.0.0.5", "2001:db8::1", "2001:db8::1"),
    ],
)
@override_settings(TRUSTED_PROXIES=["10.0.0.0/8"])
def test_the_client_ip_is_the_nearest_untrusted_address(remote, forwarded, expected):
    assert client_ip(request_from(remote, forwarded)) == expected


@pytest.mark.django_db
def test_wrong_merchant_is_still_refused_before_the_status_of_a_pending_code(
    user, merchant, other_merchant, give_item, staff_for
):
    code = order_create(item_id=give_item(user, merchant_code=merchant.code).pk, user_id=user.pk).code

    with pytest.raises(WrongMerchant):
        order_fulfil(code=code, staff_user_id=staff_for(other_merchant).pk)
