from django.urls import path

from ledger.api import views

urlpatterns = [
    path("assets", views.AssetsView.as_view(), name="assets"),
    path("assets/transactions", views.AssetTransactionsView.as_view(), name="asset-transactions"),
    path("grants/assets", views.AssetGrantView.as_view(), name="grant-assets"),
]
