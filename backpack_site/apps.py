from django.apps import AppConfig


class BackpackSiteConfig(AppConfig):
    """Wiring only: settings, URLs, Celery and the periodic schedule (with its sync command)."""

    name = "backpack_site"
    verbose_name = "Site"
