"""API plumbing shared by every app: the error format, pagination, strict fields."""

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, serializers, status
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response
from rest_framework.views import set_rollback

from core.amounts import MAX_AMOUNT
from core.errors import BackpackError
from core.parsers import depth_exceeds

# Primary keys are BIGINTs: an id past this is no id at all (a 400, not a database error).
MAX_ID = 2**63 - 1
# Callers' free-form JSON (`meta`) nests at most this deep: well under what MariaDB stores (31).
MAX_META_DEPTH = 8


def error_response(code: str, message: str, details: dict | None, http_status: int) -> Response:
    return Response({"error": {"code": code, "message": message, "details": details or {}}}, status=http_status)


def created_or_replayed(data, *, created: bool) -> Response:
    """201 for the first call of an idempotent write, 200 with the same body for its replays."""
    return Response(data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


def exception_handler(exc, context):
    """Render every error as {"error": {"code", "message", "details"}}."""
    if isinstance(exc, BackpackError):
        set_rollback()
        response = error_response(exc.code, exc.message, exc.details, exc.status)
        if exc.retry_after is not None:
            response["Retry-After"] = str(exc.retry_after)
        return response
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


class InvalidCursor(exceptions.APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = "The cursor is not valid: use the `next` or `previous` link of a page as it is."
    default_code = "invalid_cursor"


class NewestFirstCursorPagination(CursorPagination):
    """Stable pages over growing tables: ordered by the primary key, newest first.

    The id is the row's place in the list, not a claim that it committed after the rows below it: a scan
    shows each row committed before its first page once, and repeats none; a row that commits after a page
    past its id was read (a transaction in flight, milliseconds) is on the next first page, not in that
    scan (README "Ordering").

    A cursor is opaque, but it arrives from the client: one that does not decode, or whose position is not a
    value of the ordering's column, is a 400 `invalid_cursor`; so is a `page_size` that is not 1 to 200.
    """

    ordering = "-id"
    page_size_query_param = "page_size"
    max_page_size = 200

    def paginate_queryset(self, queryset, request, view=None):
        self.model = queryset.model
        return super().paginate_queryset(queryset, request, view)

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= self.max_page_size:
            raise exceptions.ValidationError({self.page_size_query_param: [f"An integer, 1 to {self.max_page_size}."]})
        return int(raw)

    def decode_cursor(self, request):
        try:
            cursor = super().decode_cursor(request)
        except exceptions.NotFound:
            raise InvalidCursor() from None
        if cursor is not None and cursor.position is not None:
            field = self.model._meta.get_field(self.ordering[0].lstrip("-"))
            try:
                field.to_python(cursor.position)
            except DjangoValidationError:
                raise InvalidCursor() from None
        return cursor

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"] = {"type": "integer", "minimum": 1, "maximum": self.max_page_size}
        return parameters


class StrictIntegerField(serializers.IntegerField):
    """An integer that arrived as a JSON integer: no floats, strings or booleans near money."""

    def to_internal_value(self, data):
        if type(data) is not int:
            self.fail("invalid")
        return super().to_internal_value(data)


class IdField(StrictIntegerField):
    """The id of a row: a JSON integer that fits the BIGINT key."""

    def __init__(self, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(**kwargs)


class UserIdField(serializers.PrimaryKeyRelatedField):
    """A user's id, as a JSON integer (DRF's own field takes `true` for user 1 and "7" for 7)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("queryset", get_user_model().objects.all())
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if type(data) is not int:
            self.fail("incorrect_type", data_type=type(data).__name__)
        if not 1 <= data <= MAX_ID:
            self.fail("does_not_exist", pk_value=data)
        return super().to_internal_value(data)


class MetaField(serializers.DictField):
    """A caller's free-form JSON object, nested at most MAX_META_DEPTH deep."""

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if depth_exceeds(value, MAX_META_DEPTH):
            raise serializers.ValidationError(f"Nested at most {MAX_META_DEPTH} levels deep.")
        return value


class AmountField(StrictIntegerField):
    def __init__(self, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_AMOUNT)
        super().__init__(**kwargs)


class QueryFilterSerializer(serializers.Serializer):
    """Query parameters. One sent empty (`?status=`) is a 400 like any other invalid value: DRF would read an
    empty form value as "not sent", and answer something the client did not ask for."""

    def to_internal_value(self, data):
        blank = [name for name in self.fields if data.get(name) == ""]
        if blank:
            raise serializers.ValidationError({name: ["May not be blank."] for name in blank})
        return super().to_internal_value(data)


class BusinessKeySerializer(serializers.Serializer):
    """The idempotency key of a write that another service (the lottery engine) asks for."""

    business_type = serializers.RegexField(r"^[a-z][a-z0-9_]*$", max_length=64)
    business_id = serializers.CharField(max_length=128)


class AssetCodeField(serializers.RegexField):
    """An asset code as the catalog spells it; whether the catalog has it (exactly) is the service's check."""

    def __init__(self, **kwargs):
        super().__init__(r"^[A-Za-z][A-Za-z0-9_]*$", max_length=32, **kwargs)
