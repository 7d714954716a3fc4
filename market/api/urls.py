from core.viewsets import ApiRouter
from market.api import price_views, views

router = ApiRouter()
router.register("market/listings", views.ListingViewSet, basename="market-listings")
router.register("market/listings/mine", views.MyListingViewSet, basename="market-my-listings")
router.register("market/buy-orders", views.BuyOrderViewSet, basename="market-buy-orders")
router.register("market/buy-orders/mine", views.MyBuyOrderViewSet, basename="market-my-buy-orders")
router.register("market/trades", views.TradeViewSet, basename="market-trades")
router.register("market/prices", price_views.PriceHistoryViewSet, basename="market-prices")
router.register("market/summary", price_views.MarketSummaryViewSet, basename="market-summary")
router.register("market/book", price_views.OrderBookViewSet, basename="market-book")

urlpatterns = router.urls
