"""Retry-safe writes (SPEC §8): the `Idempotency-Key` header of every POST that creates or moves something.

A client that lost a response retries with the same key and gets the original status and body, and nothing
is done twice; the same key with another request (body, method or path) is a 409 `idempotency_conflict`.
Keys are 1 to 64 characters of `[A-Za-z0-9_.:-]`, compared byte for byte, scoped to the caller, and kept at
least IDEMPOTENCY_KEY_TTL (24 h; `manage.py purge_idempotency_records` forgets older ones).

The view runs in one transaction with the key's claim (core.services.idempotency_claim): the record of a
response exists exactly when its write committed. Only successes are recorded: a refused request changed
nothing, so its retry is simply tried again. Requests without the header run as before.
"""

import functools
import hashlib
import json
from collections.abc import Callable

import orjson
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.utils.encoders import JSONEncoder

from core.db import atomic_with_retry
from core.keys import KEY_PATTERN, KEY_RULE, is_idempotency_key
from core.services import idempotency_claim, idempotency_complete

HEADER = "Idempotency-Key"

PARAMETER = OpenApiParameter(
    HEADER,
    str,
    OpenApiParameter.HEADER,
    required=False,
    pattern=KEY_PATTERN,
    description=(
        f"Makes the request retry-safe: {KEY_RULE}, new for each intended write. A retry with the same key and "
        "the same body gets the original status and body (header `Idempotent-Replayed: true`) and changes "
        "nothing; with another body, 409 `idempotency_conflict`. Kept for at least 24 hours."
    ),
)


def idempotency_key(request) -> str | None:
    """The request's Idempotency-Key, None without one; a malformed one is a 400."""
    key = request.headers.get(HEADER)
    if key is not None and not is_idempotency_key(key):
        raise serializers.ValidationError({HEADER: [KEY_RULE]})
    return key


def request_digest(request, *, with_body: bool) -> str:
    body = request.data if with_body else None
    canonical = orjson.dumps([request.method, request.path, body], option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()


def idempotent(
    *,
    with_body: bool = True,
    stored: Callable[[dict], dict] | None = None,
    replayed: Callable[[object, dict], dict] | None = None,
):
    """Make a viewset action retry-safe under the Idempotency-Key header.

    `with_body=False` for an action that takes no body (whatever is sent is ignored, as the action does).
    `stored(data)` is what of a response may be kept (the default: all of it) and `replayed(request, data)`
    rebuilds the rest on a replay: a redemption code is never stored, it is derived again.
    """

    def decorate(view_method):
        @functools.wraps(view_method)
        def wrapper(view, request, *args, **kwargs):
            key = idempotency_key(request)
            if key is None:
                return view_method(view, request, *args, **kwargs)
            digest = request_digest(request, with_body=with_body)

            @atomic_with_retry
            def once() -> Response:
                claim = idempotency_claim(
                    caller_id=request.user.pk, key=key, method=request.method, path=request.path, request_digest=digest
                )
                if not claim.claimed:
                    body = json.loads(claim.record.response_body)
                    response = Response(replayed(request, body) if replayed else body, status=claim.record.status)
                    response["Idempotent-Replayed"] = "true"
                    response["Cache-Control"] = "no-store"
                    return response
                response = view_method(view, request, *args, **kwargs)
                if not status.is_success(response.status_code):
                    raise _NotRecorded(response)
                body = stored(response.data) if stored else response.data
                idempotency_complete(
                    record_id=claim.record.pk,
                    status=response.status_code,
                    response_body=json.dumps(body, cls=JSONEncoder),
                )
                return response

            try:
                return once()
            except _NotRecorded as refused:  # rolls the claim back: nothing was written
                return refused.response

        wrapper.idempotent = True
        return wrapper

    return decorate


class _NotRecorded(Exception):
    def __init__(self, response):
        self.response = response
