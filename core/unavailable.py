"""503 in the error envelope while the database or Redis is away, never a 500 page.

A request that fails because a backing service is down or restarting is not a bug of the request
or of the code: the client should simply try again, with the same idempotency key. The views
let such errors through (the DRF exception handler renders only the API's own errors); this
middleware, the innermost one, turns them into 503 `service_unavailable` with `Retry-After`.
The error's text stays in the log: it names hosts and ports.
"""

import logging

import redis.exceptions
from django.db import DatabaseError
from django.http import JsonResponse

from core.db import drop_connection, error_code, is_database_unavailable, is_node_unusable

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 1
# ConnectionError covers a refused or reset connection and a Redis still loading its data.
REDIS_UNAVAILABLE = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


def unavailable_service(exc: BaseException) -> str | None:
    """Which backing service `exc` says is away ("database" or "cache"), or None."""
    if isinstance(exc, DatabaseError) and is_database_unavailable(exc):
        return "database"
    if isinstance(exc, REDIS_UNAVAILABLE):
        return "cache"
    return None


def service_unavailable_response() -> JsonResponse:
    body = {
        "error": {
            "code": "service_unavailable",
            "message": "The service is briefly unavailable; try again with the same request.",
            "details": {},
        }
    }
    response = JsonResponse(body, status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


class ServiceUnavailableMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        service = unavailable_service(exception)
        if service is None:
            return None
        if is_node_unusable(exception):
            drop_connection()  # a kept connection to a node that is not ready fails every request until closed
        logger.warning(
            "%s %s: %s unavailable (%s %s)",
            request.method,
            request.path,
            service,
            type(exception).__name__,
            error_code(exception) or "",
        )
        return service_unavailable_response()
