from core.viewsets import ApiRouter
from redemption.api import views

router = ApiRouter()
router.register("items/<int:item_id>/redemption-orders", views.ItemOrderViewSet, basename="item-redemption-orders")
router.register("redemption-orders", views.OrderViewSet, basename="redemption-orders")
router.register("merchant/redemptions", views.MerchantRedemptionViewSet, basename="merchant-redemptions")

urlpatterns = router.urls
