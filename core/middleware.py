"""Every response under /api/ is JSON (SPEC §8), including the ones no API view writes.

DRF renders the errors of its own views in the envelope (core/api.py). Everything else under /api/ comes
from Django: a path no route matches (404), a URL or a body over its size limit, a view that crashed. This
middleware answers those in the same envelope, never with an HTML page, and never with the error's text.
"""

import logging

from django.conf import settings
from django.http import JsonResponse

logger = logging.getLogger(__name__)

API_PREFIX = "/api/"
CODES = {
    400: ("bad_request", "The request is not valid."),
    401: ("not_authenticated", "Authentication credentials were not provided."),
    403: ("permission_denied", "You may not do this."),
    404: ("not_found", "Nothing is at this address."),
    405: ("method_not_allowed", "This method is not allowed here."),
    413: ("payload_too_large", "The request body is too large."),
    414: ("uri_too_long", "The URL is too long."),
    500: ("internal_error", "The server could not complete the request."),
}


def envelope(status: int, code: str | None = None, message: str | None = None) -> JsonResponse:
    default_code, default_message = CODES.get(status, ("error", "The request could not be completed."))
    body = {"error": {"code": code or default_code, "message": message or default_message, "details": {}}}
    return JsonResponse(body, status=status)


def declared_length(request) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


class ApiJsonMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path.startswith(API_PREFIX):
            return self.get_response(request)
        if len(request.get_full_path()) > settings.API_MAX_URL_BYTES:
            return envelope(414, message=f"The path and query are over {settings.API_MAX_URL_BYTES} bytes.")
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if declared_length(request) > limit:  # refused before a byte of it is read
            return envelope(413, message=f"The request body is over {limit} bytes.")
        response = self.get_response(request)
        if response.status_code >= 400 and not response.get("Content-Type", "").startswith("application/json"):
            return envelope(response.status_code)
        return response

    def process_exception(self, request, exception):
        """A view crashed: log it once, answer 500 in the envelope (no traceback or error text to the client)."""
        if not request.path.startswith(API_PREFIX):
            return None
        logger.error("%s %s failed", request.method, request.path, exc_info=exception)
        return envelope(500)
