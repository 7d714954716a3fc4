"""Failure limits against code guessing: per staff user and per client IP (core/limits.py does the counting).

An attempt takes its place before the code is checked; a refusal keeps it, a success gives it back. A
subject at the limit is refused until its window ends. DRF throttles are not enough: they count requests,
not failures, and live per view.
"""

import time

from django.conf import settings

from core.limits import Slots, slots_take
from core.limits import seconds_until_window_ends as window_end

KEY_PREFIX = "redemption:failures"

# The clock the windows are cut from; tests move it forward instead of sleeping.
clock = time.time


def attempt_slots(*, staff_user_id: int, ip: str | None) -> Slots | None:
    """The attempt's places under the staff user's and the IP's limits; None when either is at its limit."""
    limit = settings.REDEMPTION_FAILURE_LIMIT
    subjects = {f"user:{staff_user_id}": limit} | ({f"ip:{ip}": limit} if ip else {})
    return slots_take(
        prefix=KEY_PREFIX, limits=subjects, window=settings.REDEMPTION_FAILURE_WINDOW_SECONDS, now=clock()
    )


def seconds_until_window_ends() -> int:
    return window_end(window=settings.REDEMPTION_FAILURE_WINDOW_SECONDS, now=clock())
