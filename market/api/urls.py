from django.urls import path

from market.api import price_views, views

urlpatterns = [
    path("market/listings", views.ListingsView.as_view(), name="market-listings"),
    path("market/listings/mine", views.MyListingsView.as_view(), name="market-my-listings"),
    path("market/listings/<int:listing_id>", views.ListingDetailView.as_view(), name="market-listing"),
    path("market/listings/<int:listing_id>/purchase", views.ListingPurchaseView.as_view(), name="market-purchase"),
    path("market/listings/<int:listing_id>/cancel", views.ListingCancelView.as_view(), name="market-cancel"),
    path("market/trades", views.TradesView.as_view(), name="market-trades"),
    path("market/prices/<str:asset_code>", price_views.PriceHistoryView.as_view(), name="market-prices"),
    path("market/summary", price_views.MarketSummaryView.as_view(), name="market-summary"),
    path("market/book", price_views.OrderBookView.as_view(), name="market-book"),
]
