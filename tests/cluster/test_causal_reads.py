"""Read-your-writes across Galera nodes (core/causal_reads.py): a customer who just bought through one node
sees the purchase in the backpack through any other, and an ETag from before it never gets a 304.

To make the other node late on purpose, its appliers are held back (FLUSH TABLES WITH READ LOCK pauses
them; the node still answers reads). The test first shows that without the wait that node answers from
before the purchase, so it cannot pass because the node happened to be quick.
"""

import contextlib
import threading
import time

import MySQLdb
import pytest
from django.conf import settings
from django.test import override_settings
from rest_framework.test import APIClient

from market.services import listing_create
from tests.factories import UserFactory

pytestmark = pytest.mark.cluster

BACKPACK = "/api/v4/backpack"
WITHOUT_THE_WAIT = [name for name in settings.MIDDLEWARE if name != "core.causal_reads.CausalReadsMiddleware"]


@pytest.fixture
def on(on_node):
    def on(cluster, index: int, target):
        """target() in a thread whose requests and queries go to node `index`; its result (or its error)."""
        outcome = {}

        def run():
            try:
                with on_node(cluster, index):
                    outcome["result"] = target()
            except BaseException as error:  # handed to the caller
                outcome["error"] = error

        thread = threading.Thread(target=run)
        thread.start()
        thread.join()
        if "error" in outcome:
            raise outcome["error"]
        return outcome["result"]

    return on


@contextlib.contextmanager
def applier_held_back(cluster, index: int):
    connection = MySQLdb.connect(host="127.0.0.1", port=cluster.nodes[index].port, user="root")
    connection.cursor().execute("FLUSH TABLES WITH READ LOCK")
    try:
        yield connection
    finally:
        connection.cursor().execute("UNLOCK TABLES")
        connection.close()


def client(user) -> APIClient:
    api = APIClient()
    api.force_authenticate(user)
    return api


def backpack(user, etag=None):
    return client(user).get(BACKPACK, headers={"If-None-Match": etag} if etag else {})


def item_ids(response) -> set[int]:
    return {row["item_instance_id"] for row in response.json()["items"]}


@pytest.fixture
def listed_item(cluster, give_item, grant):
    """A buyer with DIAMOND and a seller's item on sale, written through node1."""
    buyer, seller = UserFactory(), UserFactory()
    grant(buyer, "DIAMOND", 500)
    item = give_item(seller)
    listing = listing_create(seller_id=seller.pk, unit_price=40, item_instance_id=item.pk)
    return buyer, listing


def test_a_purchase_through_node1_is_in_the_backpack_through_a_late_node2(cluster, listed_item, on):
    buyer, listing = listed_item
    before = on(cluster, 1, lambda: backpack(buyer))
    assert before.status_code == 200 and item_ids(before) == set()

    with applier_held_back(cluster, 1) as lock:
        bought = client(buyer).post(
            f"/api/v4/market/listings/{listing.pk}/purchase", {}, format="json", headers={"Idempotency-Key": "k1"}
        )
        assert bought.status_code == 201, bought.content
        with override_settings(MIDDLEWARE=WITHOUT_THE_WAIT):
            stale = on(cluster, 1, lambda: backpack(buyer, before["ETag"]))
        assert stale.status_code == 304  # node2 has not applied the purchase: without the wait, stale looks current
        release = threading.Timer(0.5, lambda: lock.cursor().execute("UNLOCK TABLES"))
        release.start()
        started = time.monotonic()

        after = on(cluster, 1, lambda: backpack(buyer, before["ETag"]))
        release.join()

    assert time.monotonic() - started >= 0.4  # it waited for node2's appliers
    assert after.status_code == 200
    assert item_ids(after) == {listing.item_instance_id}
    assert after["ETag"] != before["ETag"]
