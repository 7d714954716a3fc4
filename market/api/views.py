import uuid

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.mixins import ListModelMixin
from rest_framework.response import Response

from core.api import NewestFirstCursorPagination, created_or_replayed
from core.idempotency import idempotency_key, idempotent
from core.schema import ERROR
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
    response_links = {
        "create": {
            "GetListing": ("v4_market_listings_retrieve", {"listing_id": "$response.body#/id"}),
            "BuyListing": ("v4_market_listings_purchase_create", {"listing_id": "$response.body#/id"}),
            "CancelListing": ("v4_market_listings_cancel_create", {"listing_id": "$response.body#/id"}),
        }
    }

    def get_queryset(self):
        filters = ListingFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        options = dict(filters.validated_data)
        self.cursor_ordering = ORDERINGS[options.pop("ordering")]
        return selectors.listings_on_sale(**options)

    @extend_schema(
        request=ListingCreateInputSerializer,
        responses={201: ListingOutputSerializer, 404: ERROR},  # 404: item_not_found
    )
    @idempotent()
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
    )
    @action(detail=True, methods=["post"])
    @idempotent()
    def purchase(self, request, listing_id: int):
        data = PurchaseInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        # The market keeps its own per-buyer guarantee too: a retry that outlived the key's record, or that
        # sent `request_id`, still gets the original trade (200) and is not charged again.
        key = idempotency_key(request) or data.validated_data.get("request_id")
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
    @idempotent(with_body=False)
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
