"""Amounts of money in minor units (fen, cents) shown as money: 3800 → "¥38.00".

The currency is the site's (CURRENCY_SYMBOL, CURRENCY_DECIMALS); vouchers carry their face
value as an integer number of minor units in `meta.value`.
"""

import re

from django.conf import settings

# The largest face value a voucher may state in `meta.value`, in minor units (¥10,000,000,000.00 at two
# decimals): far above any voucher, and a million of them still sum within the BIGINT of
# redemption_orders.face_value and the settlement's totals.
MAX_FACE_VALUE = 10**12
_DIGITS = re.compile(r"[0-9]{1,19}")  # ASCII digits only: "²".isdigit() is true, and int("²") fails


def minor_units(value) -> int | None:
    """An amount in minor units from a JSON value (3800, -3800 or "3800"); None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and _DIGITS.fullmatch(value.strip().removeprefix("-")):
        return int(value.strip())
    return None


def face_value_error(value) -> str | None:
    """Why `value` is not a face value (an integer of minor units, 0 to MAX_FACE_VALUE); None when it is one."""
    if isinstance(value, bool) or not isinstance(value, int):
        return "meta.value is an integer number of minor units."
    if not 0 <= value <= MAX_FACE_VALUE:
        return f"meta.value is from 0 to {MAX_FACE_VALUE}."
    return None


def face_value(meta) -> int | None:
    """An item's face value from its meta: `meta.value` in minor units, None when it has none or an old row's
    breaks the rule (a string of digits, as older grants stored, still counts). What is settled on."""
    value = minor_units(meta.get("value")) if isinstance(meta, dict) else None
    return value if value is not None and face_value_error(value) is None else None


def face_value_shown(meta) -> str:
    """An item's face value for the back office: as money, "" when it has none, and an old row's value that
    breaks the rule as it is, marked, so that nobody reads it as money."""
    if not isinstance(meta, dict) or meta.get("value") in (None, ""):
        return ""
    value = face_value(meta)
    return money(value) if value is not None else f"not a face value: {str(meta['value'])[:40]}"


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
