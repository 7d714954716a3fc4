from django.apps import AppConfig


class BackpackSiteConfig(AppConfig):
    name = "backpack_site"
    verbose_name = "Operations"

    def ready(self):
        from prometheus_client import REGISTRY

        from backpack_site.metrics import DomainCollector

        REGISTRY.register(DomainCollector())
