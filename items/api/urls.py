from django.urls import path

from items.api import views

urlpatterns = [
    path("backpack", views.BackpackView.as_view(), name="backpack"),
    path("items", views.ItemListView.as_view(), name="items"),
    path("items/<int:item_id>", views.ItemDetailView.as_view(), name="item-detail"),
    path("items/<int:item_id>/events", views.ItemEventListView.as_view(), name="item-events"),
    path("grants/items", views.ItemGrantView.as_view(), name="grant-items"),
]
