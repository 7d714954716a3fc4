"""One-time redemption codes: generation, the check character, normalisation and the keyed hash.

A code is 12 characters from a 31-symbol alphabet without look-alikes (no 0/O, 1/I/L),
shown as XXXX-YYYY-ZZZZ. The 12th character is a check character: the sum of the first
11 values weighted 1..11, mod 31. Because 31 is prime and every weight is non-zero,
any single wrong character changes the sum; because neighbouring weights differ (by 1),
swapping two different neighbours changes it too (including the swap of the last data
character with the check character: that needs 12·c ≡ 12·v, so c = v, no change).
So a mistyped code is told apart from an unknown one without touching the database.

Only `code_hash` (HMAC-SHA256 under REDEMPTION_CODE_SECRET) is ever stored; a leaked
table cannot be brute-forced offline without the secret. The plain code never goes to a
log: use `code_hint` (its first 4 characters).
"""

import hashlib
import hmac
import re
import secrets

from django.conf import settings

from redemption.exceptions import CodeTypo, InvalidCodeFormat

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
BASE = len(ALPHABET)  # 31, a prime
LENGTH = 12
DATA_LENGTH = LENGTH - 1
GROUP = 4
VALUES = {symbol: value for value, symbol in enumerate(ALPHABET)}
IGNORED = re.compile(r"[\s\-]+")


def check_character(data: str) -> str:
    """The check character over the first 11 characters."""
    total = sum((position + 1) * VALUES[symbol] for position, symbol in enumerate(data))
    return ALPHABET[total % BASE]


def code_generate() -> str:
    """A new random code, formatted XXXX-YYYY-ZZZZ."""
    data = "".join(secrets.choice(ALPHABET) for _ in range(DATA_LENGTH))
    return code_format(data + check_character(data))


def code_derive(seed: str, *, secret: str | None = None) -> str:
    """The code derived from `seed` under REDEMPTION_CODE_SECRET, formatted XXXX-YYYY-ZZZZ.

    For an order whose creation may be replayed (SPEC §8): the seed names the order, the caller and their
    Idempotency-Key, so the replay derives the code again and it is never stored. Without the secret it is
    as unpredictable as a random code; its message ("derive:…") never meets a hashed code (12 symbols).
    """
    key = (secret if secret is not None else settings.REDEMPTION_CODE_SECRET).encode()
    number = int.from_bytes(hmac.new(key, f"derive:{seed}".encode(), hashlib.sha256).digest(), "big")
    symbols = []
    for _ in range(DATA_LENGTH):
        number, value = divmod(number, BASE)
        symbols.append(ALPHABET[value])
    data = "".join(symbols)
    return code_format(data + check_character(data))


def code_format(normalised: str) -> str:
    return "-".join(normalised[i : i + GROUP] for i in range(0, LENGTH, GROUP))


def code_normalise(raw: str) -> str:
    """The 12 bare characters of a code as typed (any case, spaces and dashes ignored).

    Raises InvalidCodeFormat when it cannot be a code at all, CodeTypo when the check
    character does not match (a mistyped code).
    """
    if not isinstance(raw, str):
        raise InvalidCodeFormat()
    normalised = IGNORED.sub("", raw).upper()
    if len(normalised) != LENGTH or any(symbol not in VALUES for symbol in normalised):
        raise InvalidCodeFormat()
    if check_character(normalised[:DATA_LENGTH]) != normalised[-1]:
        raise CodeTypo()
    return normalised


def code_hash(normalised: str, *, secret: str | None = None) -> str:
    """HMAC-SHA256 of a normalised code, in hex: the only form a code is stored in."""
    key = (secret if secret is not None else settings.REDEMPTION_CODE_SECRET).encode()
    return hmac.new(key, normalised.encode(), hashlib.sha256).hexdigest()


def code_hint(raw: str) -> str:
    """What may appear in a log line: the first 4 characters, never more."""
    bare = IGNORED.sub("", raw if isinstance(raw, str) else "").upper()
    return f"{bare[:GROUP]}…"
