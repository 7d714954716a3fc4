"""Input and output of the price endpoints (market/api/price_views.py)."""

from rest_framework import serializers

from core.api import AssetCodeField, DateTimeInputField, QueryFilterSerializer
from market.price_selectors import HOUR, INTERVALS, MAX_BOOK_DEPTH, MAX_SPAN, price_range


class PriceAssetSerializer(QueryFilterSerializer):
    price_asset = AssetCodeField(required=False, default="DIAMOND")


class PriceHistoryInputSerializer(PriceAssetSerializer):
    interval = serializers.ChoiceField(choices=INTERVALS, required=False, default=HOUR)

    def get_fields(self):
        # `from` is a Python keyword, so the range's fields are added by name.
        fields = super().get_fields()
        fields["from"] = DateTimeInputField(
            required=False, help_text="Start, inclusive (ISO 8601). Default: `to` minus 24 hours (1h) or 30 days (1d)."
        )
        fields["to"] = DateTimeInputField(required=False, help_text="End, exclusive (ISO 8601). Default: now.")
        return fields

    def validate(self, attrs):
        """Fills in the default range and adds it as `range`; refuses an empty or too long one."""
        interval = attrs["interval"]
        try:
            asked = price_range(interval=interval, since=attrs.get("from"), until=attrs.get("to"))
        except OverflowError as overflow:  # a default range before year 1
            raise serializers.ValidationError({"to": ["Out of range."]}) from overflow
        if asked.since >= asked.until:
            raise serializers.ValidationError({"from": ["Must be before `to`."]})
        if asked.until - asked.since > MAX_SPAN[interval]:
            raise serializers.ValidationError(
                {"from": [f"At most {MAX_SPAN[interval].days} days of {interval} buckets per request."]}
            )
        return {**attrs, "range": asked}


class OrderBookInputSerializer(PriceAssetSerializer):
    asset_code = AssetCodeField()
    depth = serializers.IntegerField(required=False, default=50, min_value=1, max_value=MAX_BOOK_DEPTH)


class PriceBucketOutputSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    open = serializers.IntegerField()
    high = serializers.IntegerField()
    low = serializers.IntegerField()
    close = serializers.IntegerField()
    volume = serializers.IntegerField(help_text="Units of the asset traded.")
    turnover = serializers.IntegerField(help_text="What buyers paid, in the price asset.")
    trades = serializers.IntegerField()


class PriceHistoryOutputSerializer(serializers.Serializer):
    asset_code = serializers.CharField()
    price_asset_code = serializers.CharField()
    interval = serializers.CharField()
    # `from` again: declared by name.
    to = serializers.DateTimeField()
    buckets = PriceBucketOutputSerializer(many=True, help_text="Only buckets with trades, oldest first.")

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = serializers.DateTimeField()
        return fields


class AssetSummaryOutputSerializer(serializers.Serializer):
    asset_code = serializers.CharField()
    name = serializers.CharField()
    icon = serializers.CharField()
    price_asset_code = serializers.CharField()
    last_price = serializers.IntegerField(allow_null=True)
    change_24h = serializers.IntegerField(allow_null=True)
    change_24h_percent = serializers.DecimalField(max_digits=20, decimal_places=2, allow_null=True)
    volume_24h = serializers.IntegerField()
    turnover_24h = serializers.IntegerField()
    trades_24h = serializers.IntegerField()
    lowest_ask = serializers.IntegerField(allow_null=True)
    highest_bid = serializers.IntegerField(allow_null=True)
    listings_on_sale = serializers.IntegerField()
    quantity_on_sale = serializers.IntegerField()


class MarketSummaryOutputSerializer(serializers.Serializer):
    price_asset_code = serializers.CharField()
    generated_at = serializers.DateTimeField()
    assets = AssetSummaryOutputSerializer(many=True)


class BookLevelOutputSerializer(serializers.Serializer):
    unit_price = serializers.IntegerField()
    quantity = serializers.IntegerField()
    listings = serializers.IntegerField()


class BidLevelOutputSerializer(serializers.Serializer):
    unit_price = serializers.IntegerField()
    quantity = serializers.IntegerField()
    orders = serializers.IntegerField()


class OrderBookOutputSerializer(serializers.Serializer):
    asset_code = serializers.CharField()
    price_asset_code = serializers.CharField()
    asks = BookLevelOutputSerializer(
        many=True, help_text="Asset listings on sale, cheapest first, at most `depth` levels."
    )
    bids = BidLevelOutputSerializer(many=True, help_text="Open buy orders, highest first, at most `depth` levels.")
    levels = BookLevelOutputSerializer(many=True, help_text="The asks again, for clients written before `bids`.")
