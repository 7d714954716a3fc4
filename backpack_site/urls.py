import hmac
import logging

from django.conf import settings
from django.contrib import admin
from django.http import Http404, JsonResponse
from django.urls import include, path
from django_prometheus.exports import ExportToDjangoView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from core.db import database_ready, drop_connection
from core.tokens import LoginView, RefreshView

logger = logging.getLogger(__name__)


def healthz(request):
    """Liveness and readiness: answers 200 only when the database answers and, on a Galera cluster, this
    process's node is Synced and ready (core.db.database_ready). The reason stays in the log."""
    try:
        ready = database_ready()
    except Exception:  # any database failure means "not ready"
        logger.exception("health check: the database does not answer")
        ready = False
    else:
        if not ready:
            logger.warning("health check: the database node is not Synced and ready")
    if not ready:
        drop_connection()  # the next request may reach a node that is
        return JsonResponse({"status": "unavailable"}, status=503)
    return JsonResponse({"status": "ok"})


def metrics(request):
    """Prometheus metrics for a scraper holding METRICS_TOKEN (`Authorization: Bearer <token>`); off without one.

    The domain numbers are aggregate queries: nobody else may make the server run them.
    """
    token = settings.METRICS_TOKEN
    scheme, _, sent = request.headers.get("Authorization", "").partition(" ")
    if not token or scheme != "Bearer" or not hmac.compare_digest(sent.encode(), token.encode()):
        raise Http404
    return ExportToDjangoView(request)


api_v4 = [
    path("auth/token", LoginView.as_view(), name="token-obtain"),
    path("auth/token/refresh", RefreshView.as_view(), name="token-refresh"),
    path("", include("ledger.api.urls")),
    path("", include("items.api.urls")),
    path("", include("market.api.urls")),
    path("", include("redemption.api.urls")),
    path("", include("gifts.api.urls")),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v4/", include(api_v4)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics, name="prometheus-django-metrics"),
]
