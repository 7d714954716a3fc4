"""asset_journal_entries.business_id compares byte for byte: a key that differs in case is another key (SPEC §8)."""

from django.db import migrations

from core.db import exact_comparison


class Migration(migrations.Migration):
    dependencies = [("ledger", "0005_leg_account_index")]

    operations = [exact_comparison("asset_journal_entries", "business_id", "varchar(128)")]
