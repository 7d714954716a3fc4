"""Schemathesis against the live schema, on MariaDB (issue 12): zero 5xx, zero responses that contradict the schema.

A bounded, reproducible run (tests/schemathesis/schemathesis.toml: a fixed seed and number of examples) of
every check but one, in its coverage, fuzzing and stateful phases, against a live server on the test database:
once as a customer with things to trade and redeem, on every operation but the staff's, and once as an operator
who is also merchant staff, on the grants and the merchant operations. The numbers are printed with the results.
"""

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rest_framework_simplejwt.tokens import AccessToken

from market.services import listing_create
from redemption.services import merchant_get_or_create, merchant_staff_add, order_create
from tests.factories import OperatorFactory, UserFactory

CONFIG = Path(__file__).parent / "schemathesis" / "schemathesis.toml"
# "Valid by the schema, refused all the same" is what business rules do, with documented 400s that contradict
# nothing: a cursor that is not one of ours, an asset code the catalog does not have, a listing naming both an
# asset and an item, an asset purchase without a quantity. Every other check runs.
EXCLUDED_CHECKS = "positive_data_acceptance"
SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"


def fuzz(url: str, token: str, *extra: str, workdir: Path) -> tuple[subprocess.CompletedProcess, float]:
    started = time.monotonic()
    result = subprocess.run(
        [
            SCHEMATHESIS,
            "--config-file",
            CONFIG,
            "--no-color",
            "run",
            f"{url}/api/schema/?format=json",
            "--checks",
            "all",
            "--exclude-checks",
            EXCLUDED_CHECKS,
            "--header",
            f"Authorization: Bearer {token}",
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=workdir,  # its cache, out of the work tree
    )
    return result, time.monotonic() - started


def numbers(output: str) -> dict[str, int]:
    cases = re.search(r"(\d+) generated, (\d+) (?:passed|found)", output)
    tested = re.search(r"Tested: (\d+)", output)
    return {"cases": int(cases[1]) if cases else -1, "operations": int(tested[1]) if tested else -1}


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_schemathesis_finds_no_server_error_and_no_contradiction(live_server, capsys, tmp_path, give_item, grant):
    customer, seller, operator = UserFactory(), UserFactory(), OperatorFactory()
    merchant = merchant_get_or_create(code="FUZZ01", name="Fuzz Noodles")
    merchant_staff_add(merchant_id=merchant.pk, user_id=operator.pk)
    for user in (customer, seller):
        grant(user, "DIAMOND", 10_000)
        grant(user, "red_shard", 100)
    for _ in range(3):
        give_item(customer)
        give_item(customer, merchant_code="FUZZ01")
    listing_create(seller_id=seller.pk, asset_code="red_shard", quantity=50, unit_price=3)
    listing_create(seller_id=seller.pk, item_instance_id=give_item(seller).pk, unit_price=30)
    order_create(item_id=give_item(seller).pk, user_id=seller.pk)

    staff_only = "^/api/v4/(grants|merchant)/"
    runs = {
        "customer": fuzz(
            live_server.url, str(AccessToken.for_user(customer)), "--exclude-path-regex", staff_only, workdir=tmp_path
        ),
        # No links among these operations: nothing for the stateful phase to follow.
        "operator": fuzz(
            live_server.url,
            str(AccessToken.for_user(operator)),
            "--include-path-regex",
            staff_only,
            "--phases",
            "coverage,fuzzing",
            workdir=tmp_path,
        ),
    }

    with capsys.disabled():
        for role, (result, seconds) in runs.items():
            counted = numbers(result.stdout)
            print(
                f"\nschemathesis as {role}: {counted['cases']} cases, {counted['operations']} operations, "
                f"{seconds:.0f} s, exit {result.returncode}"
            )
    for role, (result, _) in runs.items():
        assert result.returncode == 0, f"schemathesis as {role}:\n{result.stdout}\n{result.stderr}"
        assert numbers(result.stdout)["cases"] > 0, result.stdout
