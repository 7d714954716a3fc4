from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import serializers
from rest_framework.mixins import ListModelMixin
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from core.api import created_or_replayed
from core.keys import is_idempotency_key
from core.viewsets import ApiViewSet
from gifts import selectors, services
from gifts.api.serializers import (
    ActivityFilterSerializer,
    ActivityPageOutputSerializer,
    GiftCreateInputSerializer,
    GiftFilterSerializer,
    GiftOutputSerializer,
)


@extend_schema_view(list=extend_schema(parameters=[GiftFilterSerializer]))
class GiftViewSet(ListModelMixin, ApiViewSet):
    serializer_class = GiftOutputSerializer

    def get_queryset(self):
        filters = GiftFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return selectors.gifts_for_user(user_id=self.request.user.pk, **filters.validated_data)

    @extend_schema(
        request=GiftCreateInputSerializer,
        responses={201: GiftOutputSerializer, 200: GiftOutputSerializer},
        parameters=[OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER, required=True)],
    )
    def create(self, request):
        key = request.headers.get("Idempotency-Key")
        if not is_idempotency_key(key):
            raise serializers.ValidationError({"Idempotency-Key": ["Required: 1 to 64 characters of [A-Za-z0-9_.:-]."]})
        data = GiftCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = services.gift_send(actor=request.user, idempotency_key=key, **data.validated_data)
        body = selectors.gift_get(gift_id=result.gift.pk, user_id=request.user.pk)
        return created_or_replayed(GiftOutputSerializer(body).data, created=result.created)


class ActivityViewSet(ApiViewSet):
    """The caller's activity feed: newest first, forward cursor pages."""

    pagination_class = None  # the feed merges three streams and pages them itself (gifts.selectors.activity_page)

    @extend_schema(parameters=[ActivityFilterSerializer], responses=ActivityPageOutputSerializer)
    def show(self, request):
        filters = ActivityFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        cursor = filters.validated_data.get("cursor")
        page = selectors.activity_page(
            user_id=request.user.pk,
            cursor=selectors.ActivityCursor.decode(cursor) if cursor else None,
            page_size=filters.validated_data["page_size"],
        )
        next_url = None
        if page.next_cursor is not None:
            next_url = replace_query_param(request.build_absolute_uri(), "cursor", page.next_cursor.encode())
        body = {"next": next_url, "previous": None, "results": page.rows}
        return Response(ActivityPageOutputSerializer(body).data)
