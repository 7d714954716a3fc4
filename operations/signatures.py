"""The webhook signature (SPEC §12): `X-Backpack-Signature: t=<unix time>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.

Standard library only, so that a receiver can copy `signature_verify` as it is (the README has a whole
receiver). The time is signed with the body: a captured request cannot be replayed after the tolerance.
"""

import hashlib
import hmac
import time

HEADER = "X-Backpack-Signature"
DEFAULT_TOLERANCE_SECONDS = 300


def signature_header(*, secret: str, body: bytes, timestamp: int) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def signature_verify(
    *,
    secret: str,
    body: bytes,
    header: str,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> bool:
    """Whether `header` signs exactly `body` with `secret`, made within `tolerance_seconds` of now.

    Give the raw body as received, before any JSON parsing. Several v1 values (a secret being rotated) are
    accepted if any matches.
    """
    timestamp, signatures = None, []
    for part in (header or "").split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isdigit():
            timestamp = int(value)
        elif name == "v1":
            signatures.append(value)
    if timestamp is None or not signatures:
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance_seconds:
        return False
    expected = signature_header(secret=secret, body=body, timestamp=timestamp).partition(",v1=")[2]
    return any(hmac.compare_digest(expected, signature) for signature in signatures)
