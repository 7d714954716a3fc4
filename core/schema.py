"""The OpenAPI schema documents every error an operation can answer, with the envelope's schema (SPEC §8).

drf-spectacular documents the success responses a view declares. The errors follow from what the view is,
so they are derived here, once, rather than repeated on every view:

- 400 `invalid_input`, `parse_error` (malformed JSON, or nested too deep), `invalid_cursor`…: an operation that takes a body, query
  parameters or an Idempotency-Key header;
- 401: an operation that needs a caller;
- 403: an operation behind a permission beyond "authenticated", or an unsafe one open to the session
  (CSRF);
- 404: an operation on a path with a parameter (a missing or another user's object);
- 409: an unsafe operation that needs a caller (a business rule refuses it);
- 413 and 415: an operation that takes a body (too large; not JSON);

A view may also say what a client can do next with what an action created: `response_links`, by action,
{link name: (target operationId, {parameter: runtime expression})}, become the success response's OpenAPI
links (generated clients document them; schemathesis follows them in its stateful phase).

A view names the errors these rules cannot know in `extra_error_statuses` (a 429 of a throttled view comes
with its Retry-After header), or one operation's with `extend_schema(responses={404: ERROR})`.
"""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import AllowAny, IsAuthenticated

from core.idempotency import PARAMETER as IDEMPOTENCY_KEY

UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
DESCRIPTIONS = {
    400: "The request is not valid: `invalid_input` (with the fields in `details`), `parse_error` (malformed JSON, or nested too deep), or a "
    "domain code.",
    401: "No valid credentials.",
    403: "The caller may not do this.",
    404: "No such object (another user's is missing too).",
    409: "A business rule refuses the request in the current state (`insufficient_balance`, "
    "`idempotency_conflict`, …).",
    413: "The body is over the size limit.",
    415: "The body is not JSON.",
    429: "Too many failed attempts: come back after Retry-After seconds.",
}


class ErrorBodySerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable snake_case: what went wrong, for programs.")
    message = serializers.CharField(help_text="What went wrong, for people.")
    details = serializers.DictField(help_text="Facts about the error: the invalid fields, the limits, …")


class ErrorSerializer(serializers.Serializer):
    error = ErrorBodySerializer()


ERROR = OpenApiResponse(ErrorSerializer)


def _permissions_beyond_authentication(view) -> bool:
    return any(not isinstance(p, (AllowAny, IsAuthenticated)) for p in view.get_permissions())


class ApiAutoSchema(AutoSchema):
    def get_override_parameters(self):
        """The Idempotency-Key header of every action made retry-safe by core.idempotency."""
        parameters = super().get_override_parameters()
        handler = getattr(self.view, getattr(self.view, "action", None) or self.method.lower(), None)
        if getattr(handler, "idempotent", False):
            parameters = [*parameters, IDEMPOTENCY_KEY]
        return parameters

    def error_statuses(self) -> set[int]:
        view, method = self.view, self.method
        needs_caller = any(not isinstance(p, AllowAny) for p in view.get_permissions())
        has_body = method in UNSAFE_METHODS and self.get_request_serializer() is not None
        parameters = self._get_parameters()
        statuses = set()
        if has_body or any(p["in"] in ("query", "header") for p in parameters):
            statuses.add(400)
        if has_body:
            statuses |= {413, 415}
        if needs_caller:
            statuses.add(401)
            if method in UNSAFE_METHODS:
                statuses.add(409)
        session = any(isinstance(a, SessionAuthentication) for a in view.get_authenticators())
        if _permissions_beyond_authentication(view) or (method in UNSAFE_METHODS and session):
            statuses.add(403)
        if any(p["in"] == "path" for p in parameters):
            statuses.add(404)
        return statuses | set(getattr(view, "extra_error_statuses", ()))

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for status in sorted(self.error_statuses()):
            response = OpenApiResponse(ErrorSerializer, description=DESCRIPTIONS[status])
            responses.setdefault(str(status), self._get_response_for_code(response, str(status), direction=direction))
        for status, response in responses.items():
            if status in {str(s) for s in DESCRIPTIONS} and not response.get("description"):
                response["description"] = DESCRIPTIONS[int(status)]
        links = getattr(self.view, "response_links", {}).get(getattr(self.view, "action", None))
        if links:
            success = min(status for status in responses if status.startswith("2"))
            responses[success]["links"] = {
                name: {"operationId": operation, "parameters": parameters}
                for name, (operation, parameters) in links.items()
            }
        return responses

    def _get_response_headers_for_code(self, status_code, direction="response"):
        headers = super()._get_response_headers_for_code(status_code, direction)
        if str(status_code) == "429":
            headers["Retry-After"] = {
                "schema": {"type": "integer", "minimum": 1},
                "description": "Seconds until the caller may try again.",
                "required": True,
            }
        return headers


class IssuerKeyScheme(OpenApiAuthenticationExtension):
    """`Authorization: Api-Key <key>` of a prize issuer (core/authentication.py)."""

    target_class = "core.authentication.IssuerKeyAuthentication"
    name = "issuerKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "A prize issuer's API key, sent as `Api-Key <key>`.",
        }
