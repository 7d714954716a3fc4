from drf_spectacular.utils import extend_schema
from rest_framework.mixins import ListModelMixin
from rest_framework.response import Response

from core.api import created_or_replayed
from core.permissions import has_permission
from core.viewsets import ApiViewSet
from ledger import selectors, services
from ledger.api.serializers import (
    AssetGrantInputSerializer,
    AssetGrantOutputSerializer,
    AssetsOutputSerializer,
    LegOutputSerializer,
    TransactionFilterSerializer,
)


class AssetViewSet(ApiViewSet):
    @extend_schema(responses=AssetsOutputSerializer)
    def show(self, request):
        balances = selectors.balances_for_user(user_id=request.user.pk)
        return Response(AssetsOutputSerializer({"assets": balances}).data)


@extend_schema(parameters=[TransactionFilterSerializer])
class AssetTransactionViewSet(ListModelMixin, ApiViewSet):
    serializer_class = LegOutputSerializer

    def get_queryset(self):
        filters = TransactionFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return selectors.legs_for_user(user_id=self.request.user.pk, **filters.validated_data)


class AssetGrantViewSet(ApiViewSet):
    permission_classes = [has_permission("ledger.grant_assets")]

    @extend_schema(request=AssetGrantInputSerializer, responses={201: AssetGrantOutputSerializer})
    def create(self, request):
        data = AssetGrantInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = services.asset_grant(
            actor=request.user,
            user_id=data.validated_data["user_id"].pk,
            asset_code=data.validated_data["asset_code"],
            amount=data.validated_data["amount"],
            business_type=data.validated_data["business_type"],
            business_id=data.validated_data["business_id"],
            meta=data.validated_data["meta"],
        )
        leg = selectors.entry_user_leg(entry_id=result.entry.pk)
        body = {
            "entry_id": leg.entry_id,
            "business_type": data.validated_data["business_type"],  # as the caller named it (ledger.models)
            "business_id": leg.entry.business_id,
            "user_id": leg.account.user_id,
            "asset_code": leg.asset_id,
            "amount": leg.delta_available,
            "available_after": leg.available_after,
            "meta": leg.entry.meta,
            "created_at": leg.entry.created_at,
        }
        return created_or_replayed(AssetGrantOutputSerializer(body).data, created=result.created)
