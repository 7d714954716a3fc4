from core.viewsets import ApiRouter
from gifts.api import views

router = ApiRouter()
router.register("gifts", views.GiftViewSet, basename="gifts")
router.register("activity", views.ActivityViewSet, basename="activity")

urlpatterns = router.urls
