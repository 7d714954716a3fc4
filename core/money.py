"""Amounts of money in minor units (fen, cents) shown as money: 3800 → "¥38.00".

The currency is the site's (CURRENCY_SYMBOL, CURRENCY_DECIMALS); vouchers carry their face
value as an integer number of minor units in `meta.value`.
"""

from django.conf import settings


def minor_units(value) -> int | None:
    """An amount in minor units from a JSON value (3800 or "3800"); None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


def money(minor) -> str:
    """`minor` units as money in the site's currency; "" for None, anything not an integer shown as is."""
    if minor is None or minor == "":
        return ""
    if minor_units(minor) is None:
        return str(minor)
    minor = minor_units(minor)
    sign = "-" if minor < 0 else ""
    return f"{sign}{settings.CURRENCY_SYMBOL}{amount(abs(minor), grouped=True)}"


def amount(minor: int, *, grouped: bool = False) -> str:
    """`minor` units as a plain decimal number, without the symbol: 3800 → "38.00" (for CSV files)."""
    decimals = settings.CURRENCY_DECIMALS
    units, fraction = divmod(abs(minor), 10**decimals)
    whole = f"{units:,}" if grouped else str(units)
    return f"{'-' if minor < 0 else ''}{whole}{f'.{fraction:0{decimals}d}' if decimals else ''}"
