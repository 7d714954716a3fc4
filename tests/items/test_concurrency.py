import pytest

from items.exceptions import ItemNotAvailable
from items.models import ItemInstance, ItemStatus
from items.services import item_lock
from tests.factories import ItemFactory

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def test_two_threads_locking_one_item_exactly_one_wins(run_in_threads):
    item = ItemFactory()

    results = run_in_threads(lambda index: item_lock(item_id=item.pk, locked_by=f"market:{index}"), 2)

    winners = [r for r in results if isinstance(r, ItemInstance)]
    assert len(winners) == 1
    assert [type(r) for r in results if not isinstance(r, ItemInstance)] == [ItemNotAvailable]
    item.refresh_from_db()
    assert (item.status, item.locked_by) == (ItemStatus.LOCKED, winners[0].locked_by)
    assert item.events.filter(event_type="locked").count() == 1
