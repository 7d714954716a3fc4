from core.viewsets import ApiRouter
from market.api import views

router = ApiRouter()
router.register("market/listings", views.ListingViewSet, basename="market-listings")
router.register("market/listings/mine", views.MyListingViewSet, basename="market-my-listings")
router.register("market/trades", views.TradeViewSet, basename="market-trades")

urlpatterns = router.urls
