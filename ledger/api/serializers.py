from rest_framework import serializers

from core.api import AmountField, AssetCodeField, BusinessKeySerializer, MetaField, QueryFilterSerializer, UserIdField


class BalanceOutputSerializer(serializers.Serializer):
    asset_code = serializers.CharField()
    name = serializers.CharField()
    icon = serializers.CharField()
    type = serializers.CharField()
    available_amount = serializers.IntegerField()
    frozen_amount = serializers.IntegerField()
    total_amount = serializers.IntegerField()


class AssetsOutputSerializer(serializers.Serializer):
    assets = BalanceOutputSerializer(many=True)


class LegOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    entry_id = serializers.IntegerField()
    business_type = serializers.CharField(source="entry.business_type")
    business_id = serializers.CharField(source="entry.business_id")
    asset_code = serializers.CharField(source="asset_id")
    delta_available = serializers.IntegerField()
    delta_frozen = serializers.IntegerField()
    available_after = serializers.IntegerField()
    frozen_after = serializers.IntegerField()
    meta = serializers.JSONField()
    created_at = serializers.DateTimeField()


class TransactionFilterSerializer(QueryFilterSerializer):
    asset_code = AssetCodeField(required=False)


class AssetGrantInputSerializer(BusinessKeySerializer):
    user_id = UserIdField()
    asset_code = AssetCodeField()
    amount = AmountField()
    meta = MetaField(required=False, default=dict)


class AssetGrantOutputSerializer(serializers.Serializer):
    entry_id = serializers.IntegerField()
    business_type = serializers.CharField()
    business_id = serializers.CharField()
    user_id = serializers.IntegerField()
    asset_code = serializers.CharField()
    amount = serializers.IntegerField()
    available_after = serializers.IntegerField()
    meta = serializers.JSONField()
    created_at = serializers.DateTimeField()
