from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class BackpackSiteConfig(AppConfig):
    """Wiring only: settings, URLs, Celery and the periodic schedule (with its sync command)."""

    name = "backpack_site"
    verbose_name = "Site"
    default = True  # the app's config; the admin's below is installed by its own path


class BackpackAdminConfig(admin_apps.AdminConfig):
    """django.contrib.admin with the back office's site (INSTALLED_APPS names it instead of the admin)."""

    default = False
    default_site = "backpack_site.admin_site.BackpackAdminSite"
