from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from core.models import IssuerKey

KEYWORD = "Api-Key"


class IssuerKeyAuthentication(authentication.BaseAuthentication):
    """`Authorization: Api-Key <key>`: the request acts as the key's issuer account.

    A revoked, expired or unknown key is a 401, as is a key whose issuer is inactive.
    """

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1").split()
        if not header or header[0] != KEYWORD:
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(_("Give the key after Api-Key, with no spaces in it."))
        try:
            key = IssuerKey.objects.get_from_key(header[1])
        except IssuerKey.DoesNotExist:
            raise exceptions.AuthenticationFailed(_("Unknown or revoked API key.")) from None
        if key.has_expired or not key.issuer.is_active:
            raise exceptions.AuthenticationFailed(_("Unknown or revoked API key."))
        return key.issuer, key

    def authenticate_header(self, request):
        return KEYWORD


class IssuerKeyScheme(OpenApiAuthenticationExtension):
    """Documents the issuer's key in the OpenAPI schema."""

    target_class = IssuerKeyAuthentication
    name = "IssuerApiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "Prize issuers only: `Api-Key <key>`.",
        }
