"""Row locks of gifts: the sender's user row, first of all (core/locks.py has the global order)."""

from django.contrib.auth import get_user_model


def sender_lock(*, sender_id: int) -> None:
    """Lock the sender's user row: one sender's gifts queue on it (daily limits, replays of a key)."""
    get_user_model().objects.select_for_update().filter(pk=sender_id).values_list("pk").first()
