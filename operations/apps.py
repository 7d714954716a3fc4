from django.apps import AppConfig


class OperationsConfig(AppConfig):
    """The top floor: reconciliation runs, alerts, metrics and the dashboard, reading every app."""

    name = "operations"
    verbose_name = "Operations"

    def ready(self):
        from prometheus_client import REGISTRY

        from operations.metrics import DomainCollector

        REGISTRY.register(DomainCollector())
