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
from market import buy_order_services, selectors, services
from market.api.serializers import (
    ORDERINGS,
    BuyOrderCreateInputSerializer,
    BuyOrderOutputSerializer,
    BuyOrderPlacedOutputSerializer,
    ListingCreateInputSerializer,
    ListingFilterSerializer,
    ListingOutputSerializer,
    MyBuyOrderFilterSerializer,
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


class BuyOrderViewSet(ApiViewSet):
    lookup_url_kwarg = "buy_order_id"
    lookup_value_converter = "int"
    response_links = {
        "create": {
            "GetBuyOrder": ("v4_market_buy_orders_retrieve", {"buy_order_id": "$response.body#/id"}),
            "CancelBuyOrder": ("v4_market_buy_orders_cancel_create", {"buy_order_id": "$response.body#/id"}),
        }
    }

    @extend_schema(
        request=BuyOrderCreateInputSerializer,
        responses={201: BuyOrderPlacedOutputSerializer, 200: BuyOrderPlacedOutputSerializer},
        description="Freeze `quantity × max_unit_price` of the price asset and fill at once against the asks at "
        "or under `max_unit_price` (cheapest first, then oldest, at their prices); what is left rests on the book.",
    )
    @idempotent()
    def create(self, request):
        data = BuyOrderCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = buy_order_services.buy_order_place(
            buyer_id=request.user.pk,
            # Without a key from the client every request is a new order.
            idempotency_key=idempotency_key(request) or uuid.uuid4().hex,
            **data.validated_data,
        )
        body = {
            **selectors.buy_order_get(buy_order_id=result.order.pk, buyer_id=request.user.pk),
            "fills": selectors.trades_get(trade_ids=[trade.pk for trade in result.fills]),
        }
        return created_or_replayed(BuyOrderPlacedOutputSerializer(body).data, created=result.created)

    @extend_schema(responses=BuyOrderOutputSerializer)
    def retrieve(self, request, buy_order_id: int):
        body = selectors.buy_order_get(buy_order_id=buy_order_id, buyer_id=request.user.pk)
        return Response(BuyOrderOutputSerializer(body).data)

    @extend_schema(request=None, responses=BuyOrderOutputSerializer)
    @action(detail=True, methods=["post"])
    @idempotent(with_body=False)
    def cancel(self, request, buy_order_id: int):
        order = buy_order_services.buy_order_cancel(buy_order_id=buy_order_id, actor=request.user)
        body = selectors.buy_order_get(buy_order_id=buy_order_id, buyer_id=order.buyer_id)
        return Response(BuyOrderOutputSerializer(body).data)


@extend_schema(parameters=[MyBuyOrderFilterSerializer])
class MyBuyOrderViewSet(ListModelMixin, ApiViewSet):
    serializer_class = BuyOrderOutputSerializer

    def get_queryset(self):
        filters = MyBuyOrderFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return selectors.buy_orders_for_buyer(buyer_id=self.request.user.pk, **filters.validated_data)
