"""The API's one request parser: JSON, bounded in size and depth, valid Unicode only (SPEC §8).

orjson refuses what Python's json module lets through and later breaks: lone surrogates (which no
response can encode back), NaN and infinities. It parses without recursion in Python, and the depth
is checked without recursion too, so a body nested a thousand deep is a 400, not a RecursionError.
"""

import orjson
from django.conf import settings
from rest_framework import exceptions, status
from rest_framework.parsers import BaseParser


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "payload_too_large"


def depth_exceeds(data, limit: int) -> bool:
    """True when `data` nests objects and arrays more than `limit` deep (a flat object is depth 1)."""
    pending = [(data, 1)]
    while pending:
        node, depth = pending.pop()
        if isinstance(node, dict):
            children = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > limit:
            return True
        pending.extend((child, depth + 1) for child in children)
    return False


class StrictJSONParser(BaseParser):
    media_type = "application/json"

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        body = stream.read(limit + 1)
        if len(body) > limit:
            raise PayloadTooLarge(f"The request body is over {limit} bytes.")
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise exceptions.ParseError(f"The body is not valid JSON: {exc}.") from None
        if depth_exceeds(data, settings.API_MAX_JSON_DEPTH):
            raise exceptions.ParseError(f"The body nests deeper than {settings.API_MAX_JSON_DEPTH} levels.")
        return data
