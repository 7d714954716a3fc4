"""Reads of the core: the outbox events still to publish, the backpack versions."""

from core.models import BackpackVersion, OutboxEvent


def events_unpublished(*, limit: int) -> list[dict]:
    """The oldest events not yet fanned out to webhook deliveries, as plain dicts (one query)."""
    rows = OutboxEvent.objects.filter(published_at__isnull=True).order_by("id")
    return list(rows.values("id", "event_type", "data", "created_at")[:limit])


def backpack_version(*, user_id: int) -> int:
    """How many times the user's backpack has changed (core.models.BackpackVersion): 0 without a row."""
    return BackpackVersion.objects.filter(pk=user_id).values_list("version", flat=True).first() or 0
