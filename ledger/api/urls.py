from core.viewsets import ApiRouter
from ledger.api import views

router = ApiRouter()
router.register("assets", views.AssetViewSet, basename="assets")
router.register("assets/transactions", views.AssetTransactionViewSet, basename="asset-transactions")
router.register("grants/assets", views.AssetGrantViewSet, basename="grant-assets")

urlpatterns = router.urls
