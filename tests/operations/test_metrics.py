import pytest
from django.core.management import call_command

from backpack_site.alerts import alert_fire

pytestmark = pytest.mark.django_db


def metric_lines(client) -> dict[str, float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    lines = {}
    for line in response.content.decode().splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            lines[name] = float(value)
    return lines


def test_metrics_expose_requests_alerts_and_reconciliation(client):
    client.get("/healthz")
    alert_fire(source="test", message="planted")
    call_command("reconcile_ledger")

    metrics = metric_lines(client)

    assert metrics['backpack_alerts_total{source="test"}'] == 1
    assert metrics["backpack_reconciliation_discrepancies"] == 0
    assert metrics["backpack_reconciliation_last_pass_timestamp_seconds"] > 0
    assert any(name.startswith("django_http_requests_total_by_view_transport_method_total") for name in metrics)
