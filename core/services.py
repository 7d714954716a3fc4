"""Writes of the core: issuer API keys (created and rotated; revoking is a flag set in the admin)."""

from django.db import transaction

from core.locks import issuer_key_lock
from core.models import IssuerKey


def issuer_key_create(*, issuer_id: int, name: str) -> tuple[IssuerKey, str]:
    """A new key for an issuer account; the plain key is returned this once and never stored."""
    return IssuerKey.objects.create_key(issuer_id=issuer_id, name=name)


@transaction.atomic
def issuer_key_rotate(*, key_id: str) -> tuple[IssuerKey, str]:
    """Replace a key: a new one with the same issuer, name and expiry; the old one is revoked at once."""
    old = issuer_key_lock(key_id=key_id)
    new, plain = IssuerKey.objects.create_key(issuer_id=old.issuer_id, name=old.name, expiry_date=old.expiry_date)
    old.revoked = True
    old.save(update_fields=["revoked"])
    return new, plain
