import uuid

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.mixins import ListModelMixin
from rest_framework.response import Response

from core.api import NewestFirstCursorPagination, created_or_replayed
from core.viewsets import ApiViewSet
from market import selectors, services
from market.api.serializers import (
    ORDERINGS,
    ListingCreateInputSerializer,
    ListingFilterSerializer,
    ListingOutputSerializer,
    MyListingFilterSerializer,
    PurchaseInputSerializer,
    TradeOutputSerializer,
)


class ListingCursorPagination(NewestFirstCursorPagination):
    """Cursor pages in the order the view validated (newest first, or by unit price)."""

    def get_ordering(self, request, queryset, view):
        return getattr(view, "cursor_ordering", self.ordering)


@extend_schema_view(list=extend_schema(parameters=[ListingFilterSerializer]))
class ListingViewSet(ListModelMixin, ApiViewSet):
    serializer_class = ListingOutputSerializer
    pagination_class = ListingCursorPagination
    lookup_url_kwarg = "listing_id"
    lookup_value_converter = "int"

    def get_queryset(self):
        filters = ListingFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        options = dict(filters.validated_data)
        self.cursor_ordering = ORDERINGS[options.pop("ordering")]
        return selectors.listings_on_sale(**options)

    # The list's filters stay documented on POST too, as on the APIView before: the contract snapshot
    # (tests/api_contract/) keeps them until they are dropped on purpose.
    @extend_schema(
        parameters=[ListingFilterSerializer],
        request=ListingCreateInputSerializer,
        responses={201: ListingOutputSerializer},
    )
    def create(self, request):
        data = ListingCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        listing = services.listing_create(seller_id=request.user.pk, **data.validated_data)
        body = selectors.listing_detail(listing_id=listing.pk)
        return Response(ListingOutputSerializer(body).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=ListingOutputSerializer)
    def retrieve(self, request, listing_id: int):
        body = selectors.listing_get(listing_id=listing_id, user_id=request.user.pk)
        return Response(ListingOutputSerializer(body).data)

    @extend_schema(
        request=PurchaseInputSerializer,
        responses={201: TradeOutputSerializer, 200: TradeOutputSerializer},
        parameters=[OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER, required=False)],
    )
    @action(detail=True, methods=["post"])
    def purchase(self, request, listing_id: int):
        data = PurchaseInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        key = request.headers.get("Idempotency-Key") or data.validated_data.get("request_id")
        if key is not None and not 0 < len(key) <= 64:
            raise serializers.ValidationError({"Idempotency-Key": ["Between 1 and 64 characters."]})
        result = services.listing_purchase(
            listing_id=listing_id,
            buyer_id=request.user.pk,
            quantity=data.validated_data.get("quantity"),
            # Without a key from the client every request is a new purchase.
            idempotency_key=key or uuid.uuid4().hex,
        )
        body = selectors.trade_get(trade_id=result.trade.pk)
        return created_or_replayed(TradeOutputSerializer(body).data, created=result.created)

    @extend_schema(request=None, responses=ListingOutputSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, listing_id: int):
        services.listing_cancel(listing_id=listing_id, actor=request.user)
        body = selectors.listing_detail(listing_id=listing_id)
        return Response(ListingOutputSerializer(body).data)


@extend_schema(parameters=[MyListingFilterSerializer])
class MyListingViewSet(ListModelMixin, ApiViewSet):
    serializer_class = ListingOutputSerializer

    def get_queryset(self):
        filters = MyListingFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return selectors.listings_for_seller(seller_id=self.request.user.pk, **filters.validated_data)


class TradeViewSet(ListModelMixin, ApiViewSet):
    serializer_class = TradeOutputSerializer

    def get_queryset(self):
        return selectors.trades_for_user(user_id=self.request.user.pk)
