"""Reads of the core: the outbox events still to publish, the backpack versions."""

from core.models import BackpackVersion, OutboxEvent


def events_unpublished(*, limit: int) -> list[dict]:
    """Events not yet fanned out to webhook deliveries, as plain dicts (one query).

    Claimed by their state, never after a last id seen: ids are not commit order (a transaction takes its
    id at INSERT and may commit after a later one; a Galera node hands out its own), so an event that
    commits late with an older id is still unpublished at the next run, and is published then, once.
    Publication thus follows commit order, run by run; within a run, id order is as good as any.
    """
    rows = OutboxEvent.objects.filter(published_at__isnull=True).order_by("id")
    return list(rows.values("id", "event_type", "data", "created_at")[:limit])


def backpack_version(*, user_id: int) -> int:
    """How many times the user's backpack has changed (core.models.BackpackVersion): 0 without a row."""
    return BackpackVersion.objects.filter(pk=user_id).values_list("version", flat=True).first() or 0
