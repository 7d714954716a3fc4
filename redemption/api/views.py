import functools

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.mixins import ListModelMixin
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from core.client_ip import client_ip
from core.idempotency import idempotency_key, idempotent
from core.viewsets import ApiViewSet
from redemption import selectors, services
from redemption.api.serializers import (
    CodeInputSerializer,
    OrderCreatedOutputSerializer,
    OrderOutputSerializer,
    VerificationOutputSerializer,
)
from redemption.qr import qr_svg


def code_seed(request) -> str | None:
    """What a code is derived from when its order may be replayed: the caller and their Idempotency-Key."""
    key = idempotency_key(request)
    return f"{request.user.pk}:{key}" if key else None


def without_code(body: dict) -> dict:
    """What of a new order's response may be kept for a replay: everything but the code and its picture."""
    return {name: value for name, value in body.items() if name not in ("code", "qr_svg")}


def with_code_again(request, body: dict) -> dict:
    code = services.order_code_again(order_id=body["order_id"], code_seed=code_seed(request))
    return {**body, "code": code, "qr_svg": qr_svg(code)}


class ItemOrderViewSet(ApiViewSet):
    response_links = {
        "create": {
            "CancelOrder": ("v4_redemption_orders_cancel_create", {"order_id": "$response.body#/order_id"}),
        }
    }

    @extend_schema(request=None, responses={201: OrderCreatedOutputSerializer})
    @idempotent(with_body=False, stored=without_code, replayed=with_code_again)
    def create(self, request, item_id: int):
        issued = services.order_create(item_id=item_id, user_id=request.user.pk, code_seed=code_seed(request))
        body = {
            "order_id": issued.order.order_id,
            "code": issued.code,
            "qr_svg": qr_svg(issued.code),
            "status": issued.order.status,
            "expires_at": issued.order.expires_at,
        }
        response = Response(OrderCreatedOutputSerializer(body).data, status=status.HTTP_201_CREATED)
        response["Cache-Control"] = "no-store"
        return response


class OrderViewSet(ListModelMixin, ApiViewSet):
    serializer_class = OrderOutputSerializer
    lookup_url_kwarg = "order_id"
    lookup_value_converter = "uuid"

    def get_queryset(self):
        return selectors.orders_for_user(user_id=self.request.user.pk)

    @extend_schema(request=None, responses=OrderOutputSerializer)
    @action(detail=True, methods=["post"])
    @idempotent(with_body=False)
    def cancel(self, request, order_id):
        order = services.order_cancel(order_id=order_id, user_id=request.user.pk)
        return Response(OrderOutputSerializer(order).data)


def verification_body(verification: services.Verification) -> dict:
    order, item = verification.order, verification.item
    return {
        "order": order,
        "item": {
            "id": item.pk,
            "name": item.name,
            "item_type": item.item_type,
            "status": item.status,
            "meta": item.meta,
            "owner": selectors.masked_name(order.customer),
        },
        "merchant": verification.merchant,
    }


def verification_response(request, service) -> Response:
    """Check the code in the request with `service` (look up, or fulfil) and answer what it verified."""
    data = CodeInputSerializer(data=request.data)
    data.is_valid(raise_exception=True)
    verification = service(
        code=data.validated_data["code"],
        merchant_code=data.validated_data.get("merchant_code"),
        staff_user_id=request.user.pk,
        ip=client_ip(request),
    )
    return Response(VerificationOutputSerializer(verification_body(verification)).data)


# Lookup and fulfil take no Idempotency-Key: a fulfil retried after a lost response answers 409
# `code_already_used` with the time and the caller's own merchant, which is the answer the retry needs.
# Who is merchant staff, and where, the service checks first, in its one read of the caller's merchants;
# no permission class asks it again (a second query on every lookup and fulfil).
class MerchantRedemptionViewSet(ApiViewSet):
    permission_classes = [IsAuthenticated]
    extra_error_statuses = (403, 404, 429)  # not_merchant_staff, wrong_merchant; code_not_found; too_many_attempts

    @extend_schema(request=CodeInputSerializer, responses=VerificationOutputSerializer)
    @action(detail=False, methods=["post"])
    def lookup(self, request):
        return verification_response(request, services.order_lookup)

    @extend_schema(request=CodeInputSerializer, responses=VerificationOutputSerializer)
    @action(detail=False, methods=["post"])
    def fulfil(self, request):
        # A counter device retries a fulfil whose answer it lost: its own repeat gets the original success.
        return verification_response(request, functools.partial(services.order_fulfil, repeat_gets_original=True))
