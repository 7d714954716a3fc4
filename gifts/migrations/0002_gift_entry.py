"""Each asset gift names its ledger entry (issue 20): the activity feed finds a gift from its entry through the
gift's own row, not from the entry's meta, which grants could once write. Gifts made before are linked by the
key the gift service gave their entries: business type "gift", business id "<sender id>:<Idempotency-Key>"."""

import django.db.models.deletion
from django.db import migrations, models


def link_entries(apps, schema_editor):
    Gift = apps.get_model("gifts", "Gift")
    JournalEntry = apps.get_model("ledger", "JournalEntry")
    for gift in Gift.objects.filter(asset__isnull=False, entry__isnull=True).iterator():
        entry_id = (
            JournalEntry.objects.filter(business_type="gift", business_id=f"{gift.sender_id}:{gift.idempotency_key}")
            .values_list("pk", flat=True)
            .first()
        )
        if entry_id is not None:
            Gift.objects.filter(pk=gift.pk).update(entry_id=entry_id)


class Migration(migrations.Migration):
    dependencies = [
        ("gifts", "0001_initial"),
        ("ledger", "0006_exact_business_ids"),
    ]

    operations = [
        migrations.AddField(
            model_name="gift",
            name="entry",
            field=models.OneToOneField(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="gift",
                to="ledger.journalentry",
            ),
        ),
        migrations.RunPython(link_entries, migrations.RunPython.noop),
    ]
