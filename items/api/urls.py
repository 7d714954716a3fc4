from core.viewsets import ApiRouter
from items.api import views

router = ApiRouter()
router.register("backpack", views.BackpackViewSet, basename="backpack")
router.register("items", views.ItemViewSet, basename="items")
router.register("items/<int:item_id>/events", views.ItemEventViewSet, basename="item-events")
router.register("grants/items", views.ItemGrantViewSet, basename="grant-items")

urlpatterns = router.urls
