from django.apps import AppConfig


class OperationsConfig(AppConfig):
    """The top floor: reconciliation runs, alerts, metrics and the dashboard, reading every app."""

    name = "operations"
    verbose_name = "Operations"

    def ready(self):
        from prometheus_client import REGISTRY

        from core.sweeps import sweep_failed
        from ledger.signals import issuance_refused
        from operations.alerts import issuance_refused_alert, sweep_failed_alert
        from operations.metrics import DomainCollector

        REGISTRY.register(DomainCollector())
        issuance_refused.connect(issuance_refused_alert, dispatch_uid="operations.issuance_refused_alert")
        sweep_failed.connect(sweep_failed_alert, dispatch_uid="operations.sweep_failed_alert")
