from rest_framework import serializers

from core.api import AmountField, QueryFilterSerializer, StrictIntegerField
from gifts.services import MESSAGE_MAX_LENGTH

MAX_PAGE_SIZE = 200


class GiftCreateInputSerializer(serializers.Serializer):
    to_username = serializers.CharField(max_length=150)
    item_instance_id = StrictIntegerField(required=False, min_value=1)
    asset_code = serializers.CharField(required=False, max_length=32)
    amount = AmountField(required=False)
    message = serializers.CharField(required=False, allow_blank=True, max_length=MESSAGE_MAX_LENGTH, default="")


class GiftFilterSerializer(QueryFilterSerializer):
    direction = serializers.ChoiceField(choices=["sent", "received"], required=False)


class GiftOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    direction = serializers.ChoiceField(
        choices=["sent", "received"], help_text="Whether the caller sent or received it."
    )
    sender = serializers.CharField(source="sender_name", help_text="The sender's username.")
    recipient = serializers.CharField(source="recipient_name", help_text="The recipient's username.")
    item_instance_id = serializers.IntegerField(allow_null=True)
    item_type = serializers.CharField(allow_null=True)
    item_name = serializers.CharField(allow_null=True)
    asset_code = serializers.CharField(allow_null=True)
    amount = serializers.IntegerField(allow_null=True)
    message = serializers.CharField()
    created_at = serializers.DateTimeField()


class ActivityFilterSerializer(QueryFilterSerializer):
    cursor = serializers.CharField(required=False, max_length=200)
    page_size = serializers.IntegerField(required=False, min_value=1, max_value=MAX_PAGE_SIZE, default=50)


KINDS = [
    "grant",
    "spend",
    "purchase",
    "sale",
    "gift_sent",
    "gift_received",
    "redemption",
    "expiry",
    "listing",
    "listing_closed",
    "buy_order",
    "buy_order_closed",
    "adjustment",
    "migration",
]


class ActivityOutputSerializer(serializers.Serializer):
    """One thing that happened to the backpack: an asset amount (a journal leg) or an item (an item event)."""

    id = serializers.CharField(help_text='"leg:<journal leg id>" or "item:<item event id>".')
    kind = serializers.ChoiceField(choices=KINDS)
    created_at = serializers.DateTimeField()
    asset_code = serializers.CharField(allow_null=True)
    delta_available = serializers.IntegerField(allow_null=True)
    delta_frozen = serializers.IntegerField(allow_null=True)
    item_instance_id = serializers.IntegerField(allow_null=True)
    item_type = serializers.CharField(allow_null=True)
    item_name = serializers.CharField(allow_null=True)
    counterparty = serializers.CharField(allow_null=True, help_text="The other customer of a trade or gift, masked.")
    message = serializers.CharField(allow_null=True, help_text="A gift's message.")
    reference = serializers.CharField(help_text="The business reference of the entry or event.")


class ActivityPageOutputSerializer(serializers.Serializer):
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True, help_text="Always null: the feed pages forward only.")
    results = ActivityOutputSerializer(many=True)
