"""The one way every check raises an alarm: an ERROR log line, a stored Alert (counted by the
metrics) and a JSON POST to ALERT_WEBHOOK_URL when it is set. A dead webhook never breaks a check."""

import json
import logging
import urllib.request

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder

from operations.models import Alert

logger = logging.getLogger("backpack.alerts")

MAX_SWEEP_FAILURES_SHOWN = 50


def alert_fire(*, source: str, message: str, details: dict | None = None) -> Alert:
    """Call outside any transaction: the webhook is a network call."""
    details = details or {}
    logger.error("ALERT %s: %s %s", source, message, json.dumps(details, cls=DjangoJSONEncoder)[:2000])
    alert = Alert.objects.create(source=source, message=message, details=details)
    if settings.ALERT_WEBHOOK_URL:
        alert.webhook_status = _post(alert)
        Alert.objects.filter(pk=alert.pk).update(webhook_status=alert.webhook_status)
    return alert


def _post(alert: Alert) -> str:
    body = {
        "alert_id": alert.pk,
        "source": alert.source,
        "message": alert.message,
        "details": alert.details,
        "fired_at": alert.created_at,
    }
    request = urllib.request.Request(
        settings.ALERT_WEBHOOK_URL,
        data=json.dumps(body, cls=DjangoJSONEncoder).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=settings.ALERT_WEBHOOK_TIMEOUT) as response:
            return f"HTTP {response.status}"
    except Exception as error:  # any failure to deliver: logged and stored, never raised
        logger.warning("alert %s: webhook failed: %s", alert.pk, error)
        return f"failed: {error}"[:200]


def issuance_refused_alert(*, actor_id: int, asset_code: str, amount: int, details: dict, **signal) -> None:
    """A grant over an issuance limit: minting balances, so reconciliation would never see it."""
    alert_fire(
        source="issuance_limit",
        message=f"Grant of {amount} {asset_code} by user {actor_id} refused: over the issuance limit.",
        details={"actor_id": actor_id, **details},
    )


def sweep_failed_alert(*, sweep: str, failures: list[dict], **signal) -> None:
    """Rows a periodic sweep skipped (core.sweeps): one alert per run, and none when the sweep's last alert
    named the same rows (a row that fails every hour is one problem, reported once)."""
    rows = sorted(str(failure["row"]) for failure in failures)
    last = Alert.objects.filter(source="sweep", details__sweep=sweep).order_by("-pk").first()
    if last is not None and last.details.get("rows") == rows:
        return
    alert_fire(
        source="sweep",
        message=f"Sweep {sweep} skipped {len(rows)} row(s) it could not close.",
        details={"sweep": sweep, "rows": rows, "failures": failures[:MAX_SWEEP_FAILURES_SHOWN]},
    )
