"""Failure counters against code guessing: per staff user and per client IP.

Counts live in the Django cache (Redis in production, so every process shares them),
one key per subject and fixed window: `cache.add` creates it with the window as its
lifetime, `cache.incr` bumps it atomically. A subject at the limit is refused until its
window ends. DRF throttles are not enough: they count requests, not failures, and live
per view.
"""

import time

from django.conf import settings
from django.core.cache import cache

KEY_PREFIX = "redemption:failures"

# The clock the windows are cut from; tests move it forward instead of sleeping.
clock = time.time


def _keys(*, staff_user_id: int, ip: str | None) -> list[str]:
    window = settings.REDEMPTION_FAILURE_WINDOW_SECONDS
    index = int(clock() // window)
    subjects = [f"user:{staff_user_id}"] + ([f"ip:{ip}"] if ip else [])
    return [f"{KEY_PREFIX}:{subject}:{index}" for subject in subjects]


def failures_exceeded(*, staff_user_id: int, ip: str | None) -> bool:
    """True when the staff user or the IP has reached the failure limit in this window."""
    counts = cache.get_many(_keys(staff_user_id=staff_user_id, ip=ip))
    return any(count >= settings.REDEMPTION_FAILURE_LIMIT for count in counts.values())


def failure_count(*, staff_user_id: int, ip: str | None) -> None:
    """Count one failure against the staff user and the IP."""
    timeout = settings.REDEMPTION_FAILURE_WINDOW_SECONDS
    for key in _keys(staff_user_id=staff_user_id, ip=ip):
        cache.add(key, 0, timeout=timeout)
        try:
            cache.incr(key)
        except ValueError:  # the key expired between add and incr: a new window starts
            cache.add(key, 1, timeout=timeout)


def seconds_until_window_ends() -> int:
    window = settings.REDEMPTION_FAILURE_WINDOW_SECONDS
    return int(window - clock() % window) + 1
