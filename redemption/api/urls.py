from django.urls import path

from redemption.api import views

urlpatterns = [
    path("items/<int:item_id>/redemption-orders", views.OrderCreateView.as_view(), name="redemption-order-create"),
    path("redemption-orders", views.OrderListView.as_view(), name="redemption-orders"),
    path("redemption-orders/<uuid:order_id>/cancel", views.OrderCancelView.as_view(), name="redemption-order-cancel"),
    path("merchant/redemptions/lookup", views.MerchantLookupView.as_view(), name="merchant-redemption-lookup"),
    path("merchant/redemptions/fulfil", views.MerchantFulfilView.as_view(), name="merchant-redemption-fulfil"),
]
