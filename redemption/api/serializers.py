from rest_framework import serializers


class OrderCreatedOutputSerializer(serializers.Serializer):
    order_id = serializers.UUIDField()
    code = serializers.CharField()
    qr_svg = serializers.CharField()
    status = serializers.CharField()
    expires_at = serializers.DateTimeField()


class MerchantOutputSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()


class OrderOutputSerializer(serializers.Serializer):
    order_id = serializers.UUIDField()
    item_instance_id = serializers.IntegerField()
    item_name = serializers.CharField(source="item_instance.name")
    item_type = serializers.CharField(source="item_instance.item_type")
    status = serializers.CharField()
    expires_at = serializers.DateTimeField()
    fulfilled_at = serializers.DateTimeField(allow_null=True)
    merchant = MerchantOutputSerializer(allow_null=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class CodeInputSerializer(serializers.Serializer):
    code = serializers.CharField(max_length=64, trim_whitespace=False)
    merchant_code = serializers.CharField(
        max_length=32, required=False, help_text="Needed only by staff of several merchants."
    )


class VerifiedItemOutputSerializer(serializers.Serializer):
    item_instance_id = serializers.IntegerField(source="id")
    name = serializers.CharField()
    item_type = serializers.CharField()
    status = serializers.CharField()
    meta = serializers.JSONField()
    owner = serializers.CharField(help_text="The owner's name, masked.")


class VerifiedOrderOutputSerializer(serializers.Serializer):
    order_id = serializers.UUIDField()
    status = serializers.CharField()
    expires_at = serializers.DateTimeField()
    fulfilled_at = serializers.DateTimeField(allow_null=True)


class VerificationOutputSerializer(serializers.Serializer):
    order = VerifiedOrderOutputSerializer()
    item = VerifiedItemOutputSerializer()
    merchant = MerchantOutputSerializer()
