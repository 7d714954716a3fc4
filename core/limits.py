"""Failure counters against guessing (redemption codes, passwords): per subject, in fixed windows, in the
Django cache (Redis in production, so every process shares them).

Count, then decide, in one atomic step: an attempt first takes a slot (`cache.incr` is atomic) and is
refused when that puts a subject past its limit; an attempt that turns out well gives its slot back, a
failed one keeps it (it is that failure's count). Checking first and counting after the outcome let every
request that checked before the first failures were counted through: 30 concurrent bad guesses got 11
past a limit of 10. Here at most `limit` failures ever run.
"""

import contextlib
import math
from dataclasses import dataclass

from django.core.cache import cache


@dataclass(frozen=True)
class Slots:
    """The slots an attempt holds, one per subject."""

    keys: tuple[str, ...]

    def release(self) -> None:
        """The attempt did not fail: it does not count."""
        for key in self.keys:
            with contextlib.suppress(ValueError):  # the window ended meanwhile: nothing to give back
                cache.decr(key)


def _incr(key: str, window: int) -> int:
    cache.add(key, 0, timeout=window)
    try:
        return cache.incr(key)
    except ValueError:  # the key expired between add and incr: a new window starts
        cache.add(key, 1, timeout=window)
        return 1


def slots_take(*, prefix: str, limits: dict[str, int], window: int, now: float) -> Slots | None:
    """A slot for every subject ({subject: its limit}) in the current window, or None when one of them is
    at its limit (the slots just taken are given back)."""
    index = int(now // window)
    keys, over = [], False
    for subject, limit in limits.items():
        key = f"{prefix}:{subject}:{index}"
        keys.append(key)
        over |= _incr(key, window) > limit
    slots = Slots(tuple(keys))
    if over:
        slots.release()
        return None
    return slots


def seconds_until_window_ends(*, window: int, now: float) -> int:
    return max(1, math.ceil(window - now % window))
