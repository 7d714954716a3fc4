"""The rule of an idempotency key, one for every app: the Idempotency-Key header, a body's `request_id`, and
the key a service is given (a purchase's, a gift's)."""

import re

KEY_PATTERN = r"^[A-Za-z0-9_.:-]{1,64}$"
KEY_RULE = "1 to 64 characters of A-Z, a-z, 0-9 and _ . : -"


def is_idempotency_key(value) -> bool:
    return isinstance(value, str) and re.fullmatch(KEY_PATTERN, value) is not None
