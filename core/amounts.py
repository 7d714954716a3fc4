"""Amounts are integers in minor units, never floats, bounded so that totals and fees fit a BIGINT."""

from core.errors import BackpackError

MAX_AMOUNT = 10**15


def require_positive(error: type[BackpackError], **values) -> None:
    """Raise `error` unless every value is a positive integer (booleans are not integers here)."""
    for name, value in values.items():
        if type(value) is not int or value <= 0:
            raise error(f"{name} is a positive integer.", **{name: repr(value)})
