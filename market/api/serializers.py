from rest_framework import serializers

from core.api import MAX_ID, AmountField, AssetCodeField, IdField, QueryFilterSerializer
from core.keys import KEY_PATTERN
from items.choices import ItemType
from market.models import BuyOrderStatus, ListingStatus, ListingType

ORDERINGS = {
    "-created_at": ("-id",),
    "created_at": ("id",),
    "unit_price": ("unit_price", "id"),
    "-unit_price": ("-unit_price", "-id"),
}


class ListingCreateInputSerializer(serializers.Serializer):
    asset_code = AssetCodeField(required=False)
    quantity = AmountField(required=False)
    item_instance_id = IdField(required=False)
    unit_price = AmountField()
    price_asset_code = AssetCodeField(required=False, default="DIAMOND")


class ListingFilterSerializer(QueryFilterSerializer):
    listing_type = serializers.ChoiceField(choices=ListingType.choices, required=False)
    asset_code = AssetCodeField(required=False)
    item_type = serializers.ChoiceField(choices=ItemType.choices, required=False)
    min_price = serializers.IntegerField(required=False, min_value=0, max_value=MAX_ID)
    max_price = serializers.IntegerField(required=False, min_value=0, max_value=MAX_ID)
    ordering = serializers.ChoiceField(choices=list(ORDERINGS), required=False, default="-created_at")


class MyListingFilterSerializer(QueryFilterSerializer):
    status = serializers.ChoiceField(choices=ListingStatus.choices, required=False)


class PurchaseInputSerializer(serializers.Serializer):
    quantity = AmountField(required=False)
    # The retry key when the client cannot send an Idempotency-Key header (the header wins).
    request_id = serializers.RegexField(KEY_PATTERN, required=False, max_length=64)


class ListingOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    seller_id = serializers.IntegerField()
    listing_type = serializers.CharField()
    asset_code = serializers.CharField(allow_null=True)
    quantity = serializers.IntegerField(allow_null=True)
    quantity_remaining = serializers.IntegerField(allow_null=True)
    item_instance_id = serializers.IntegerField(allow_null=True)
    item_type = serializers.CharField(allow_null=True)
    item_name = serializers.CharField(allow_null=True)
    price_asset_code = serializers.CharField()
    unit_price = serializers.IntegerField()
    status = serializers.CharField()
    expires_at = serializers.DateTimeField()
    sold_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class TradeOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    listing_id = serializers.IntegerField()
    buy_order_id = serializers.IntegerField(allow_null=True, help_text="Set when the trade filled a buy order.")
    listing_type = serializers.CharField()
    asset_code = serializers.CharField(allow_null=True)
    item_instance_id = serializers.IntegerField(allow_null=True)
    buyer_id = serializers.IntegerField()
    seller_id = serializers.IntegerField()
    quantity = serializers.IntegerField()
    unit_price = serializers.IntegerField()
    price_asset_code = serializers.CharField()
    total = serializers.IntegerField()
    fee = serializers.IntegerField()
    seller_amount = serializers.IntegerField()
    entry_id = serializers.IntegerField()
    created_at = serializers.DateTimeField()


class BuyOrderCreateInputSerializer(serializers.Serializer):
    asset_code = AssetCodeField()
    quantity = AmountField()
    max_unit_price = AmountField()
    price_asset_code = AssetCodeField(required=False, default="DIAMOND")


class MyBuyOrderFilterSerializer(QueryFilterSerializer):
    status = serializers.ChoiceField(choices=BuyOrderStatus.choices, required=False)


class BuyOrderOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    buyer_id = serializers.IntegerField()
    asset_code = serializers.CharField()
    price_asset_code = serializers.CharField()
    quantity = serializers.IntegerField()
    quantity_remaining = serializers.IntegerField()
    max_unit_price = serializers.IntegerField()
    status = serializers.CharField()
    expires_at = serializers.DateTimeField()
    closed_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class BuyOrderPlacedOutputSerializer(BuyOrderOutputSerializer):
    fills = TradeOutputSerializer(many=True, help_text="What the order filled when it was placed, in fill order.")
