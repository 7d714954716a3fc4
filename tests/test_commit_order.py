"""Ids are not commit order (SPEC §9): a transaction takes its id at INSERT and may commit after a later one.

Out-of-order commits on one MariaDB: a transaction on another connection takes the lower id, and commits
only after the newer row has committed (a Galera cluster, whose nodes hand out ids with their own offsets,
does the same without being asked). README "Ordering" says what each reader may rely on.
"""

import threading
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.db import connections, transaction
from django.utils import timezone

from core.models import EventType, OutboxEvent
from core.services import event_record
from ledger.models import JournalLeg
from market.services import listing_create
from operations.models import WebhookEndpoint
from operations.webhooks import deliveries_claim, events_fan_out
from tests.conftest import give_item, grant
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

LISTINGS = "/api/v4/market/listings"


@contextmanager
def committed_late(write):
    """Run `write()` in a transaction on another connection and yield its result: its rows have their ids
    already, and commit only when the block ends, after whatever the block commits."""
    written, release, box = threading.Event(), threading.Event(), {}

    def run():
        try:
            with transaction.atomic():
                box["result"] = write()
                written.set()
                release.wait(30)
        except Exception as exc:
            box["error"] = exc
        finally:
            written.set()
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    written.wait(30)
    try:
        if "error" in box:
            raise box["error"]
        yield box["result"]
    finally:
        release.set()
        thread.join(30)


def recorded(label: str) -> int:
    """Record an event in its own transaction; returns its id."""
    with transaction.atomic():
        event_record(event_type=EventType.ITEM_EXPIRED, data={"label": label})
        return OutboxEvent.objects.get(data__label=label).pk


def test_an_event_that_commits_after_a_newer_one_is_published_once_after_it():
    WebhookEndpoint.objects.create(url="http://127.0.0.1:9/hooks", secret="s", event_types=["*"])
    first_run = timezone.now()
    second_run = first_run + timedelta(seconds=1)

    with committed_late(lambda: recorded("late")) as late:
        on_time = recorded("on time")
        published_first = events_fan_out(now=first_run)
    published_second = events_fan_out(now=second_run)

    assert late < on_time
    assert (published_first, published_second, events_fan_out(now=second_run)) == (1, 1, 0)
    assert dict(OutboxEvent.objects.values_list("id", "published_at")) == {on_time: first_run, late: second_run}
    # Deliveries are claimed in the order their events were published: commit order, not id order.
    claims = [deliveries_claim(now=second_run, limit=1) for _ in range(3)]
    assert [[delivery.event_id for delivery in claim] for claim in claims] == [[on_time], [late], []]


def test_a_listing_that_commits_late_is_never_shown_twice_and_a_new_first_page_shows_it(client_for):
    sellers = [UserFactory() for _ in range(4)]
    items = [give_item(seller) for seller in sellers]

    def listed(index):
        return listing_create(seller_id=sellers[index].pk, item_instance_id=items[index].pk, unit_price=5)

    oldest, older = listed(0), listed(1)
    api = client_for(UserFactory())

    with committed_late(lambda: listed(2)) as late:
        newer = listed(3)
        first = api.get(LISTINGS, {"page_size": 2}).json()
    second = api.get(first["next"]).json()
    again = api.get(LISTINGS, {"page_size": 4}).json()

    def ids(page):
        return [row["id"] for row in page["results"]]

    assert older.pk < late.pk < newer.pk
    assert ids(first) + ids(second) == [newer.pk, older.pk, oldest.pk]  # the bounded case: this scan had passed it
    assert ids(again) == [newer.pk, late.pk, older.pk, oldest.pk]


def test_a_users_postings_commit_in_the_order_of_their_ids():
    """What keeps the activity feed's cursor from passing a row of the user that commits later."""
    user = UserFactory()

    def grant_again():
        try:
            grant(user, "DIAMOND", 2)
        finally:
            connections.close_all()

    second = threading.Thread(target=grant_again)

    with committed_late(lambda: grant(user, "DIAMOND", 1)):
        second.start()
        second.join(0.5)
        waited = second.is_alive()  # on the user's backpack version, until the first commits
    second.join(30)

    assert waited
    legs = JournalLeg.objects.filter(account__user=user).order_by("id")
    assert list(legs.values_list("delta_available", flat=True)) == [1, 2]
