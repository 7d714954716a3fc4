"""market_trades.idempotency_key compares byte for byte: a key that differs in case is another key (SPEC §8)."""

from django.db import migrations

from core.db import exact_comparison


class Migration(migrations.Migration):
    dependencies = [("market", "0004_trade_price_time_index")]

    operations = [exact_comparison("market_trades", "idempotency_key", "varchar(64)")]
