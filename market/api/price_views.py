"""Market prices for any signed-in user: price history, the summary per asset and the order book.

Read-only and bounded: at most 744 hourly or 366 daily buckets, one row per catalog asset,
at most 200 price levels. Numbers come from `market.price_selectors`.
"""

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from core.viewsets import ApiViewSet
from market import price_selectors
from market.api.price_serializers import (
    MarketSummaryOutputSerializer,
    OrderBookInputSerializer,
    OrderBookOutputSerializer,
    PriceAssetSerializer,
    PriceHistoryInputSerializer,
    PriceHistoryOutputSerializer,
)


class PriceHistoryViewSet(ApiViewSet):
    lookup_url_kwarg = "asset_code"
    lookup_value_converter = "str"

    @extend_schema(
        parameters=[PriceHistoryInputSerializer],
        responses=PriceHistoryOutputSerializer,
        description="OHLC buckets of one asset priced in `price_asset`: hours in UTC, days in the site's time zone. "
        "404 `asset_not_found` for an unknown asset; 400 for an unknown price asset, interval or range.",
    )
    def retrieve(self, request, asset_code: str):
        query = PriceHistoryInputSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        options, asked = query.validated_data, query.validated_data["range"]
        buckets = price_selectors.price_buckets(
            asset_code=asset_code,
            price_asset_code=options["price_asset"],
            interval=options["interval"],
            since=asked.since,
            until=asked.until,
        )
        body = {
            "asset_code": asset_code,
            "price_asset_code": options["price_asset"],
            "interval": options["interval"],
            "from": asked.since,
            "to": asked.until,
            "buckets": buckets,
        }
        return Response(PriceHistoryOutputSerializer(body).data)


class MarketSummaryViewSet(ApiViewSet):
    @extend_schema(
        parameters=[PriceAssetSerializer],
        responses=MarketSummaryOutputSerializer,
        description="Per tradable asset: last price, change over 24 hours, 24-hour volume, lowest ask, highest bid, "
        "listings on sale.",
    )
    def show(self, request):
        query = PriceAssetSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        price_asset = query.validated_data["price_asset"]
        now = timezone.now()
        assets = price_selectors.market_summary(price_asset_code=price_asset, now=now)
        body = {"price_asset_code": price_asset, "generated_at": now, "assets": assets}
        return Response(MarketSummaryOutputSerializer(body).data)


class OrderBookViewSet(ApiViewSet):
    extra_error_statuses = (404,)  # asset_not_found

    @extend_schema(
        parameters=[OrderBookInputSerializer],
        responses=OrderBookOutputSerializer,
        description="Both sides of the book grouped by unit price: `asks` (asset listings on sale, cheapest first) "
        "and `bids` (open buy orders, highest first); `levels` repeats `asks` for the clients written before bids.",
    )
    def show(self, request):
        query = OrderBookInputSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        options = query.validated_data
        book = price_selectors.order_book(
            asset_code=options["asset_code"], price_asset_code=options["price_asset"], depth=options["depth"]
        )
        body = {
            "asset_code": options["asset_code"],
            "price_asset_code": options["price_asset"],
            "levels": book["asks"],
            **book,
        }
        return Response(OrderBookOutputSerializer(body).data)
