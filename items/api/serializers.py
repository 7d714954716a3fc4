from rest_framework import serializers

from core.api import DateTimeInputField, MetaField, QueryFilterSerializer, UserIdField, json_object_serializer
from items.models import ItemStatus, ItemType
from items.selectors import BACKPACK_ITEM_KEYS, BACKPACK_STATUSES
from ledger.api.serializers import BalanceOutputSerializer


class ItemOutputSerializer(serializers.Serializer):
    item_instance_id = serializers.IntegerField(source="id")
    item_type = serializers.CharField()
    name = serializers.CharField()
    status = serializers.CharField()
    meta = serializers.JSONField()
    locked_by = serializers.CharField(allow_null=True)
    locked_at = serializers.DateTimeField(allow_null=True)
    expires_at = serializers.DateTimeField(allow_null=True)
    merchant_code = serializers.CharField(allow_null=True)
    source = serializers.CharField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class ItemEventOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    event_type = serializers.CharField()
    from_status = serializers.CharField(allow_null=True)
    to_status = serializers.CharField()
    business_ref = serializers.CharField()
    created_at = serializers.DateTimeField()


class ItemFilterSerializer(QueryFilterSerializer):
    status = serializers.ChoiceField(choices=ItemStatus.choices, required=False)
    item_type = serializers.ChoiceField(choices=ItemType.choices, required=False)


class BackpackFilterSerializer(QueryFilterSerializer):
    status = serializers.ChoiceField(choices=BACKPACK_STATUSES, required=False)
    item_type = serializers.ChoiceField(choices=ItemType.choices, required=False)


BackpackItemOutputSerializer = json_object_serializer(
    "BackpackItemOutputSerializer",
    BACKPACK_ITEM_KEYS,
    doc="The shape of a backpack item (documentation only: the database writes it, items.selectors.BACKPACK_ITEM_KEYS).",
)


class BackpackOutputSerializer(serializers.Serializer):
    assets = BalanceOutputSerializer(many=True)
    items = BackpackItemOutputSerializer(many=True)


class ItemGrantInputSerializer(serializers.Serializer):
    user_id = UserIdField()
    item_type = serializers.ChoiceField(choices=ItemType.choices)
    name = serializers.CharField(max_length=200)
    meta = MetaField(required=False, default=dict)
    expires_at = DateTimeInputField(required=False, allow_null=True, default=None)
    merchant_code = serializers.CharField(max_length=32, required=False, allow_null=True, default=None)
    source = serializers.RegexField(r"^[a-z][a-z0-9_]*$", max_length=32, required=False, default="lottery")
    business_id = serializers.CharField(max_length=128)
