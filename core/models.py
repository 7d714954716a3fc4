"""Credentials of the services that call the API: the prize issuer's API keys."""

from django.conf import settings
from django.db import models
from rest_framework_api_key.models import AbstractAPIKey


class IssuerKey(AbstractAPIKey):
    """An API key of a prize issuer (the lottery engine): hashed at rest, shown once, revocable.

    Requests made with it act as `issuer`, so they get exactly the issuer's permissions and limits.
    """

    issuer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="api_keys")

    class Meta(AbstractAPIKey.Meta):
        db_table = "core_issuer_keys"
        verbose_name = "issuer API key"
        verbose_name_plural = "issuer API keys"
