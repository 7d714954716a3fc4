"""The domain error hierarchy. Services raise these; the API layer renders them.

Each error carries a stable snake_case `code` and the HTTP status the API answers with,
so services stay free of any web framework.
"""


class BackpackError(Exception):
    code = "error"
    status = 400
    default_message = "The request could not be completed."
    retry_after: int | None = None  # seconds, for the Retry-After header

    def __init__(self, message: str | None = None, **details):
        self.message = message or self.default_message
        self.details = details
        super().__init__(self.message)


class InvalidInput(BackpackError):
    code = "invalid_input"
    status = 400
    default_message = "The input is not valid."


class NotFound(BackpackError):
    code = "not_found"
    status = 404
    default_message = "Not found."


class Forbidden(BackpackError):
    code = "forbidden"
    status = 403
    default_message = "You may not do this."


class Conflict(BackpackError):
    """A business rule refuses the request in the current state."""

    code = "conflict"
    status = 409
    default_message = "The request conflicts with the current state."


class TooManyRequests(BackpackError):
    """Always says when to come back: `retry_after_seconds` in the details and the Retry-After header."""

    code = "too_many_requests"
    status = 429
    default_message = "Too many requests; try again later."

    def __init__(self, message: str | None = None, *, retry_after_seconds: int, **details):
        super().__init__(message, retry_after_seconds=retry_after_seconds, **details)
        self.retry_after = retry_after_seconds


class IdempotencyConflict(Conflict):
    """A key used again for a different request: a business key (a journal entry's, an item grant's, a trade's
    or a gift's key) with other content, or an Idempotency-Key with another body, method or path."""

    code = "idempotency_conflict"
    default_message = "This business key was already used for a different request."
