"""Operators see in the admin what their permissions allow; money stays read-only."""

import pytest
from django.urls import reverse

from tests.factories import OperatorFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator_client(client):
    client.force_login(OperatorFactory())
    return client


@pytest.mark.parametrize(
    "name",
    [
        "ledger_balance_changelist",
        "ledger_journalentry_changelist",
        "ledger_balanceaudit_changelist",
        "market_marketlisting_changelist",
        "items_iteminstance_changelist",
        "items_iteminstance_add",  # granting an item
        "operations_reconciliationrun_changelist",
        "operations_reconciliationrun_dashboard",
        "legacy_inventory_retirement_changelist",
    ],
)
def test_an_operator_opens_what_the_role_allows(operator_client, name):
    assert operator_client.get(reverse(f"admin:{name}")).status_code == 200


@pytest.mark.parametrize(
    "name",
    [
        "ledger_balance_add",  # money is read-only for everybody
        "ledger_journalentry_add",
        "core_issuerkey_changelist",  # keys are the superuser's
        "core_issuerkey_add",
        "ledger_issuancelimit_add",
        "auth_user_changelist",
    ],
)
def test_an_operator_cannot_open_what_the_role_does_not_allow(operator_client, name):
    assert operator_client.get(reverse(f"admin:{name}")).status_code == 403
