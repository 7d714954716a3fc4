import orjson
from django.utils.cache import get_conditional_response
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework.mixins import ListModelMixin
from rest_framework.response import Response

from core.api import created_or_replayed
from core.permissions import has_permission
from core.renderers import ORJSONRenderer
from core.viewsets import ApiViewSet
from items import selectors, services
from items.api.serializers import (
    BackpackFilterSerializer,
    BackpackOutputSerializer,
    ItemEventOutputSerializer,
    ItemFilterSerializer,
    ItemGrantInputSerializer,
    ItemOutputSerializer,
)
from ledger.selectors import balances_for_user

IF_NONE_MATCH = OpenApiParameter(
    "If-None-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="ETags of backpacks the client has (or *): 304 if the backpack is still one of them.",
)
ETAG = OpenApiParameter(
    "ETag", OpenApiTypes.STR, OpenApiParameter.HEADER, response=[200, 304], description="This backpack's strong ETag."
)


def valid_filters(serializer_class, request) -> dict:
    filters = serializer_class(data=request.query_params)
    filters.is_valid(raise_exception=True)
    return filters.validated_data


@extend_schema_view(list=extend_schema(parameters=[ItemFilterSerializer]))
class ItemViewSet(ListModelMixin, ApiViewSet):
    serializer_class = ItemOutputSerializer
    lookup_url_kwarg = "item_id"
    lookup_value_converter = "int"

    def get_queryset(self):
        return selectors.items_for_owner(
            owner_id=self.request.user.pk, **valid_filters(ItemFilterSerializer, self.request)
        )

    @extend_schema(responses=ItemOutputSerializer)
    def retrieve(self, request, item_id: int):
        item = selectors.item_get_for_owner(owner_id=request.user.pk, item_id=item_id)
        return Response(ItemOutputSerializer(item).data)


class ItemEventViewSet(ListModelMixin, ApiViewSet):
    serializer_class = ItemEventOutputSerializer

    def get_queryset(self):
        item = selectors.item_get_for_owner(owner_id=self.request.user.pk, item_id=self.kwargs["item_id"])
        return selectors.item_events(item_id=item.pk)


class BackpackViewSet(ApiViewSet):
    """Both tracks in one response, in a fixed number of queries, the items' JSON written by the database.

    Conditional: the strong ETag changes with every change to the user's balances or items, the filters
    and the asset catalog, so If-None-Match with the current tag is answered 304 without reading either.
    """

    renderer_classes = [ORJSONRenderer]

    @extend_schema(
        parameters=[BackpackFilterSerializer, IF_NONE_MATCH, ETAG],
        responses={200: BackpackOutputSerializer, 304: OpenApiResponse(description="Not modified since the ETag.")},
    )
    def show(self, request):
        filters = valid_filters(BackpackFilterSerializer, request)
        etag = selectors.backpack_etag(user_id=request.user.pk, **filters)
        response = get_conditional_response(request, etag=etag)  # 304 for a matching If-None-Match
        if response is None:
            response = Response(
                {
                    "assets": balances_for_user(user_id=request.user.pk),
                    "items": orjson.Fragment(selectors.backpack_items_json(owner_id=request.user.pk, **filters)),
                }
            )
        response["ETag"] = etag
        return response


class ItemGrantViewSet(ApiViewSet):
    permission_classes = [has_permission("items.grant_items")]

    @extend_schema(request=ItemGrantInputSerializer, responses={201: ItemOutputSerializer})
    def create(self, request):
        data = ItemGrantInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = data.validated_data
        item, created = services.item_grant(
            owner_id=fields["user_id"].pk,
            item_type=fields["item_type"],
            name=fields["name"],
            meta=fields["meta"],
            expires_at=fields["expires_at"],
            merchant_code=fields["merchant_code"],
            source=fields["source"],
            source_ref=fields["business_id"],
            actor=request.user,
        )
        return created_or_replayed(ItemOutputSerializer(item).data, created=created)
