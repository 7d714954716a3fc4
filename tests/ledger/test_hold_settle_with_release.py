"""A settle that gives part of its amount back (HoldChange.released): a buy order's fill under its limit."""

import pytest
from django.db import transaction

from ledger.exceptions import InvalidEntry
from ledger.models import Hold, HoldStatus
from ledger.reconciliation import ledger_discrepancies
from ledger.services import HoldChange, Leg, account_get_or_create, entry_post, hold_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def hold(user, grant):
    grant(user, "DIAMOND", 100)
    return hold_create(user_id=user.pk, asset_code="DIAMOND", amount=50, business_type="t_hold", business_id="h")


def settle(hold, other_user, *, amount, released, paid):
    payee = account_get_or_create(user_id=other_user.pk)
    return entry_post(
        business_type="t_settle",
        business_id=f"{amount}:{released}",
        legs=[Leg(account_id=payee.pk, asset_code="DIAMOND", delta_available=paid)],
        hold_changes=[HoldChange(hold_id=hold.pk, amount=amount, released=released)],
    )


def test_the_released_part_goes_back_to_available_and_the_rest_is_settled(user, other_user, hold, available, frozen):
    settle(hold, other_user, amount=30, released=6, paid=24)

    assert (available(user), frozen(user), available(other_user)) == (56, 20, 24)
    assert Hold.objects.get(pk=hold.pk).remaining == 20
    assert ledger_discrepancies() == []


def test_a_settle_of_all_that_remains_with_a_release_settles_the_hold(user, other_user, hold, available, frozen):
    settle(hold, other_user, amount=50, released=10, paid=40)

    assert Hold.objects.get(pk=hold.pk).status == HoldStatus.SETTLED
    assert (available(user), frozen(user)) == (60, 0)


@pytest.mark.parametrize("released", [-1, 31])
def test_a_release_outside_the_amount_is_refused(user, other_user, hold, released, frozen):
    with pytest.raises(InvalidEntry), transaction.atomic():  # a posting's failure fails its caller's transaction
        settle(hold, other_user, amount=30, released=released, paid=30 - released)
    assert frozen(user) == 50
