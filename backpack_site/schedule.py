"""The one place that declares the periodic tasks.

`manage.py sync_periodic_tasks` (run at every deploy) writes this into django-celery-beat's
tables; beat reads them with its database scheduler. Times are in settings.TIME_ZONE.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Periodic:
    name: str
    task: str
    minute: str = "0"
    hour: str = "*"
    day_of_week: str = "*"  # crontab's: 0 (or 7) is Sunday


PERIODIC_TASKS = [
    Periodic(name="expire items", task="items.tasks.expire_items", minute="5"),
    Periodic(name="reconcile ledger", task="operations.tasks.reconcile_ledger", minute="0", hour="2"),
    Periodic(
        name="reconcile ledger in full",
        task="operations.tasks.reconcile_ledger_full",
        minute="0",
        hour="4",
        day_of_week="0",
    ),
    Periodic(name="seal journal", task="ledger.tasks.seal_journal", minute="*"),
    Periodic(name="expire listings", task="market.tasks.expire_listings", minute="10"),
    Periodic(name="expire buy orders", task="market.tasks.expire_buy_orders", minute="12"),
    Periodic(name="expire redemption orders", task="redemption.tasks.expire_redemption_orders", minute="0"),
    Periodic(name="check redemption failure rate", task="operations.tasks.check_redemption_failure_rate", minute="15"),
    Periodic(name="announce expiring items", task="items.tasks.announce_expiring_items", minute="20", hour="9"),
    Periodic(name="deliver webhooks", task="operations.tasks.deliver_webhooks", minute="*"),
    Periodic(name="purge idempotency records", task="core.tasks.purge_idempotency_records", minute="30", hour="3"),
    Periodic(name="flush expired refresh tokens", task="core.tasks.flush_expired_tokens", minute="40", hour="3"),
]
