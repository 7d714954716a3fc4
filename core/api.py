"""API plumbing shared by every app: the error format and pagination."""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from rest_framework import exceptions, serializers, status
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response
from rest_framework.views import set_rollback

from core.amounts import MAX_AMOUNT
from core.errors import BackpackError


def error_response(code: str, message: str, details: dict | None, http_status: int) -> Response:
    return Response({"error": {"code": code, "message": message, "details": details or {}}}, status=http_status)


def created_or_replayed(data, *, created: bool) -> Response:
    """201 for the first call of an idempotent write, 200 with the same body for its replays."""
    return Response(data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


def exception_handler(exc, context):
    """Render every error as {"error": {"code", "message", "details"}}."""
    if isinstance(exc, BackpackError):
        set_rollback()
        return error_response(exc.code, exc.message, exc.details, exc.status)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if not isinstance(exc, exceptions.APIException):
        return None

    set_rollback()
    headers = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(int(exc.wait))

    if isinstance(exc, exceptions.ValidationError):
        details = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        response = error_response("invalid_input", "The input is not valid.", details, status.HTTP_400_BAD_REQUEST)
    else:
        detail = exc.detail
        code = detail.code if hasattr(detail, "code") else exc.default_code
        if isinstance(detail, dict):  # simplejwt puts its reasons in a dict
            code = str(detail.get("code", exc.default_code))
            message = str(detail.get("detail", exc.default_detail))
        else:
            message = str(detail)
        response = error_response(str(code), message, None, exc.status_code)
    for name, value in headers.items():
        response[name] = value
    return response


class NewestFirstCursorPagination(CursorPagination):
    """Stable pages over growing tables: ordered by the primary key, newest first."""

    ordering = "-id"
    page_size_query_param = "page_size"
    max_page_size = 200


class StrictIntegerField(serializers.IntegerField):
    """An integer that arrived as a JSON integer: no floats, strings or booleans near money."""

    def to_internal_value(self, data):
        if type(data) is not int:
            self.fail("invalid")
        return super().to_internal_value(data)


class AmountField(StrictIntegerField):
    def __init__(self, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_AMOUNT)
        super().__init__(**kwargs)


class BusinessKeySerializer(serializers.Serializer):
    """The idempotency key of a write that another service (the lottery engine) asks for."""

    business_type = serializers.RegexField(r"^[a-z][a-z0-9_]*$", max_length=64)
    business_id = serializers.CharField(max_length=128)
