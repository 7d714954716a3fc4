"""The platform fee account is spread over slot accounts (ledger/models.py): a purchase waits on the fee row of
its buyer's slot only. On MariaDB with real threads: one connection holds a slot's fee row as a long purchase
would, and purchases of buyers in other slots go through while one in the same slot waits."""

import threading

import pytest
from django.db import OperationalError, connection, connections, transaction

from core.db import MYSQL_LOCK_WAIT_TIMEOUT, error_code
from ledger.models import SYSTEM_ACCOUNT_SLOTS, Balance, SystemAccount
from ledger.reconciliation import ledger_discrepancies
from ledger.selectors import system_balance
from ledger.services import system_account_id, system_slot_code
from market.services import listing_create, listing_purchase
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture
def buyer_in_slot(grant):
    def buyer_in_slot(slot: int):
        """A new user whose id falls in `slot` of the slotted accounts."""
        while True:
            user = UserFactory()
            if user.pk % SYSTEM_ACCOUNT_SLOTS == slot:
                grant(user, "DIAMOND", 1000)
                return user

    return buyer_in_slot


def hold_fee_row(code: str, held: threading.Event, release: threading.Event) -> None:
    try:
        with transaction.atomic():
            Balance.objects.select_for_update().get(account_id=system_account_id(code), asset_id="DIAMOND")
            held.set()
            release.wait(timeout=30)
    finally:
        connections.close_all()


def test_a_held_fee_slot_holds_up_only_the_purchases_of_its_own_slot(buyer_in_slot, grant):
    seller = UserFactory()
    grant(seller, "red_shard", 10)
    listing = listing_create(seller_id=seller.pk, asset_code="red_shard", quantity=10, unit_price=30)
    first = buyer_in_slot(3)
    same_slot, other_slot = buyer_in_slot(3), buyer_in_slot(4)
    listing_purchase(listing_id=listing.pk, buyer_id=first.pk, quantity=1, idempotency_key="makes-the-fee-row")
    held, release = threading.Event(), threading.Event()
    holder = threading.Thread(
        target=hold_fee_row, args=(system_slot_code(SystemAccount.PLATFORM_FEE, user_id=first.pk), held, release)
    )
    holder.start()
    held.wait(timeout=10)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SET SESSION innodb_lock_wait_timeout = 1")
        listing_purchase(listing_id=listing.pk, buyer_id=other_slot.pk, quantity=1, idempotency_key="other")
        with pytest.raises(OperationalError) as waited:
            listing_purchase(listing_id=listing.pk, buyer_id=same_slot.pk, quantity=1, idempotency_key="same")
        assert error_code(waited.value) == MYSQL_LOCK_WAIT_TIMEOUT
    finally:
        release.set()
        holder.join()
        connection.close()  # the next statements get the server's default lock wait again

    assert system_balance(code=SystemAccount.PLATFORM_FEE, asset_code="DIAMOND") == 2  # two fees of 1 (minimum)
    assert ledger_discrepancies() == []
