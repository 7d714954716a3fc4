"""Reads of the core: the outbox events still to publish."""

from core.models import OutboxEvent


def events_unpublished(*, limit: int) -> list[dict]:
    """The oldest events not yet fanned out to webhook deliveries, as plain dicts (one query)."""
    rows = OutboxEvent.objects.filter(published_at__isnull=True).order_by("id")
    return list(rows.values("id", "event_type", "data", "created_at")[:limit])
