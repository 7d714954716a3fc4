"""The posting rules (ledger/posting/rules.py) in pure Python: no test here may touch the database
(pytest-django refuses any query in a test without the django_db mark)."""

import pytest

from ledger.exceptions import HoldAmountExceeded, HoldNotOpen, IdempotencyConflict, InsufficientBalance, InvalidEntry
from ledger.models import Balance, Hold, HoldStatus, JournalEntry
from ledger.posting import rules
from ledger.posting.rules import HoldChange, Leg


def test_legs_that_sum_to_zero_per_asset_balance():
    rules.check_balanced([Leg(1, "DIAMOND", delta_available=-5), Leg(2, "DIAMOND", delta_available=3, delta_frozen=2)])


def test_legs_that_do_not_sum_to_zero_are_refused_with_the_difference():
    with pytest.raises(InvalidEntry) as refused:
        rules.check_balanced([Leg(1, "DIAMOND", delta_available=-5), Leg(2, "DIAMOND", delta_available=4)])

    assert refused.value.details == {"unbalanced": {"DIAMOND": -1}}


def test_two_legs_of_one_account_and_asset_are_refused():
    with pytest.raises(InvalidEntry, match="One leg per account and asset"):
        rules.check_balanced([Leg(1, "DIAMOND", delta_available=-5), Leg(1, "DIAMOND", delta_available=5)])


@pytest.mark.parametrize(
    ("legs", "message"),
    [
        ([], "at least one leg"),
        ([Leg(1, "DIAMOND", delta_available=1.0)], "Amounts are integers"),
        ([Leg(1, "DIAMOND", delta_available=True)], "Amounts are integers"),
        ([Leg(1, "DIAMOND")], "must move something"),
    ],
)
def test_an_entry_whose_legs_break_a_rule_is_refused(legs, message):
    with pytest.raises(InvalidEntry, match=message):
        rules.validate("t", "1", legs, ())


def test_a_hold_changed_twice_in_one_entry_is_refused():
    with pytest.raises(InvalidEntry, match="at most once"):
        rules.validate("t", "1", [], [HoldChange(hold_id=7), HoldChange(hold_id=7, amount=1)])


def test_the_fingerprint_ignores_the_order_of_legs_and_sees_every_amount():
    one, two = Leg(1, "DIAMOND", delta_available=-5), Leg(2, "DIAMOND", delta_available=5)

    assert rules.fingerprint([one, two], (), {"a": 1}) == rules.fingerprint([two, one], (), {"a": 1})
    assert rules.fingerprint([one, two], (), {"a": 1}) != rules.fingerprint([one, two], (), {"a": 2})
    assert rules.fingerprint([one, two], (), {}) != rules.fingerprint(
        [Leg(1, "DIAMOND", delta_available=-4), Leg(2, "DIAMOND", delta_available=4)], (), {}
    )


def test_a_replay_with_other_content_conflicts():
    entry = JournalEntry(business_type="t", business_id="1", fingerprint="abc")

    assert rules.replayed(entry, "abc") is entry
    with pytest.raises(IdempotencyConflict):
        rules.replayed(entry, "def")


def test_settling_all_of_a_hold_gives_the_holders_frozen_leg_and_settles_it():
    hold = Hold(pk=3, account_id=1, asset_id="DIAMOND", amount=10, remaining=10, status=HoldStatus.OPEN)

    leg = rules.apply_hold_change(hold, HoldChange(hold_id=3))

    assert leg == Leg(1, "DIAMOND", delta_available=0, delta_frozen=-10, meta={"hold_id": 3})
    assert (hold.remaining, hold.status) == (0, HoldStatus.SETTLED)


def test_releasing_part_of_a_hold_returns_it_to_available_and_keeps_the_hold_open():
    hold = Hold(pk=3, account_id=1, asset_id="DIAMOND", amount=10, remaining=10, status=HoldStatus.OPEN)

    leg = rules.apply_hold_change(hold, HoldChange(hold_id=3, amount=4, release=True))

    assert (leg.delta_available, leg.delta_frozen) == (4, -4)
    assert (hold.remaining, hold.status) == (6, HoldStatus.OPEN)


def test_a_hold_change_over_what_remains_or_on_a_closed_hold_is_refused():
    hold = Hold(pk=3, account_id=1, asset_id="DIAMOND", amount=10, remaining=2, status=HoldStatus.OPEN)
    with pytest.raises(HoldAmountExceeded):
        rules.apply_hold_change(hold, HoldChange(hold_id=3, amount=3))

    hold.status = HoldStatus.SETTLED
    with pytest.raises(HoldNotOpen):
        rules.apply_hold_change(hold, HoldChange(hold_id=3))


def test_legs_applied_to_balances_give_the_after_balances_and_refuse_a_user_overdraft():
    user = Balance(account_id=1, asset_id="DIAMOND", available_amount=5, frozen_amount=0, allows_negative=False)
    system = Balance(account_id=2, asset_id="DIAMOND", available_amount=0, frozen_amount=0, allows_negative=True)
    balances = {(1, "DIAMOND"): user, (2, "DIAMOND"): system}
    entry = JournalEntry(business_type="t", business_id="1")

    rows = rules.apply_legs(
        entry, [Leg(1, "DIAMOND", delta_available=-5), Leg(2, "DIAMOND", delta_available=5)], balances
    )

    assert [(row.account_id, row.available_after) for row in rows] == [(1, 0), (2, 5)]
    with pytest.raises(InsufficientBalance):
        rules.apply_legs(entry, [Leg(1, "DIAMOND", delta_available=-1)], balances)
