"""The journal's seal: every committed entry in exactly one block, and any rewrite of the sealed past named."""

import threading
import time

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, connections, transaction

from core.models import EventType, OutboxEvent
from ledger import seal
from ledger.models import JournalBlock, JournalEntry, JournalSeal
from ledger.reconciliation import ledger_discrepancies
from ledger.seal import journal_seal, journal_verify
from ledger.services import transfer
from tests.factories import UserFactory


@pytest.fixture
def no_grace(settings):
    """Every block is past the grace at once: the low-water mark is the newest block's."""
    settings.JOURNAL_COMMIT_GRACE_SECONDS = 0


@pytest.fixture
def journal(db, alice, bob, no_grace, grant):
    """Grants to alice and bob and a transfer of 10 from alice to bob, all sealed."""
    grant(alice, "DIAMOND", 100)
    grant(bob, "DIAMOND", 20)
    moved = transfer(
        from_user_id=alice.pk, to_user_id=bob.pk, asset_code="DIAMOND", amount=10, business_type="t", business_id="1"
    ).entry
    journal_seal()
    return moved


def problems() -> list[tuple]:
    return [(p["check"], p.get("block"), p.get("entry_id")) for p in journal_verify().problems]


@pytest.mark.django_db
def test_every_entry_is_sealed_once_and_each_block_is_published(journal):
    (block,) = JournalBlock.objects.all()

    assert block.entry_count == JournalEntry.objects.count() == JournalSeal.objects.count()
    assert journal_seal() == []
    assert [e.data for e in OutboxEvent.objects.filter(event_type=EventType.JOURNAL_SEALED)] == [
        {"number": 1, "hash": block.hash}
    ]
    found = journal_verify(digest=block.hash)
    assert (found.problems, found.pending, found.digest_found) == ([], [], True)


@pytest.mark.django_db
def test_blocks_chain_by_hash(journal, alice, grant):
    grant(alice, "DIAMOND", 1)
    journal_seal(block_size=1)
    grant(alice, "DIAMOND", 2)
    journal_seal()

    blocks = list(JournalBlock.objects.order_by("number"))
    assert [b.number for b in blocks] == [1, 2, 3]
    assert [b.previous_hash for b in blocks] == [seal.GENESIS_HASH, blocks[0].hash, blocks[1].hash]
    assert journal_verify(from_block=2).problems == []


@pytest.mark.django_db
def test_an_entry_not_sealed_yet_is_pending_not_tampered(journal, alice, grant):
    late = grant(alice, "DIAMOND", 5).entry

    found = journal_verify()

    assert (found.problems, found.pending) == ([], [late.pk])


@pytest.mark.django_db
def test_a_leg_and_its_balances_edited_consistently_pass_reconciliation_but_not_the_seal(
    journal, alice, bob, execute_sql
):
    # Value moved from alice to bob: the transfer said 10, now it says 15, and both balance rows agree.
    for user, delta in ((alice, -5), (bob, 5)):
        execute_sql(
            "UPDATE asset_transactions SET delta_available = delta_available + %s, available_after = available_after"
            " + %s WHERE entry_id = %s AND account_id = (SELECT id FROM accounts WHERE user_id = %s)",
            [delta, delta, journal.pk, user.pk],
        )
        execute_sql(
            "UPDATE account_asset_balances SET available_amount = available_amount + %s"
            " WHERE asset_code = 'DIAMOND' AND account_id = (SELECT id FROM accounts WHERE user_id = %s)",
            [delta, user.pk],
        )

    assert ledger_discrepancies() == []
    assert problems() == [("sealed_entry_matches", 1, journal.pk)]


@pytest.mark.django_db
def test_a_deleted_sealed_entry_is_named(journal, alice, bob, execute_sql):
    for user, delta in ((alice, 10), (bob, -10)):  # the transfer undone in the balances too
        execute_sql(
            "UPDATE account_asset_balances SET available_amount = available_amount + %s"
            " WHERE asset_code = 'DIAMOND' AND account_id = (SELECT id FROM accounts WHERE user_id = %s)",
            [delta, user.pk],
        )
    execute_sql("DELETE FROM asset_transactions WHERE entry_id = %s", [journal.pk])
    execute_sql("DELETE FROM asset_journal_entries WHERE id = %s", [journal.pk])

    assert ledger_discrepancies() == []
    assert problems() == [("sealed_entry_matches", 1, journal.pk)]


@pytest.mark.django_db
def test_a_deleted_seal_row_names_the_block_and_its_place(journal, execute_sql):
    execute_sql("DELETE FROM ledger_journal_seals WHERE entry_id = %s", [journal.pk])

    found = journal_verify()

    assert found.problems[0]["check"] == "block_matches_entries" and found.problems[0]["block"] == 1
    assert found.problems[0]["position"] == 2  # the third entry of the block is missing


@pytest.mark.django_db
def test_a_forged_entry_among_sealed_ones_is_named(journal, alice, execute_sql, grant):
    with pytest.raises(RuntimeError), transaction.atomic():  # an id taken and given back: a gap in the journal
        grant(alice, "DIAMOND", 1)
        raise RuntimeError
    grant(alice, "DIAMOND", 2)
    journal_seal()
    gap = JournalEntry.objects.order_by("-pk")[0].pk - 1
    execute_sql(
        "INSERT INTO asset_journal_entries (id, business_type, business_id, fingerprint, meta, created_at)"
        " SELECT %s, 'forged', 'f-1', '', '{}', created_at FROM asset_journal_entries WHERE id = %s",
        [gap, journal.pk],
    )

    assert problems() == [("entry_sealed", None, gap)]


@pytest.mark.django_db
def test_a_rewritten_chain_is_caught_by_the_digest_held_outside(journal, execute_sql):
    held = JournalBlock.objects.get().hash
    execute_sql("UPDATE asset_journal_entries SET meta = '{\"rewritten\": true}' WHERE id = %s", [journal.pk])
    # The attacker reseals from scratch, so the database agrees with itself again.
    execute_sql("DELETE FROM ledger_journal_seals")
    execute_sql("DELETE FROM ledger_journal_blocks")
    journal_seal()

    assert journal_verify().problems == []
    assert [p["check"] for p in journal_verify(digest=held).problems] == ["digest_in_chain"]


SEAL_COLUMNS = "entry_id, block_number, position, entry_hash"
BLOCK_COLUMNS = "number, previous_hash, merkle_root, hash, entry_count, max_entry_seen, sealed_at"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "sql",
    [
        f"INSERT INTO ledger_journal_seals ({SEAL_COLUMNS})"
        f" SELECT entry_id, block_number, 99, entry_hash FROM ledger_journal_seals WHERE position = 0",
        f"INSERT INTO ledger_journal_seals ({SEAL_COLUMNS})"
        f" SELECT entry_id + 1000, block_number, position, entry_hash FROM ledger_journal_seals WHERE position = 0",
        f"INSERT INTO ledger_journal_blocks ({BLOCK_COLUMNS}) SELECT number, previous_hash, merkle_root,"
        " REPEAT('f', 64), entry_count, max_entry_seen, sealed_at FROM ledger_journal_blocks",
        "UPDATE ledger_journal_blocks SET entry_count = 0",
    ],
    ids=["an entry sealed twice", "two entries at one place", "a second block of one number", "an empty block"],
)
def test_database_refuses_a_seal_that_breaks_the_chain(journal, sql):
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql)


@pytest.mark.django_db
def test_journal_verify_exits_non_zero_and_names_the_entry(journal, capsys, execute_sql):
    execute_sql("UPDATE asset_transactions SET meta = '{\"x\": 1}' WHERE entry_id = %s", [journal.pk])

    with pytest.raises(SystemExit) as exit_status:
        call_command("journal_verify")

    assert exit_status.value.code == 1
    assert f"sealed_entry_matches at block 1, entry_id {journal.pk}" in capsys.readouterr().err


@pytest.mark.django_db
def test_journal_digest_prints_the_head(journal, capsys):
    call_command("journal_digest")

    head = JournalBlock.objects.get()
    assert capsys.readouterr().out.startswith(f"block 1 {head.hash} sealed ")


@pytest.mark.django_db
def test_a_sealer_that_fails_mid_block_leaves_nothing_and_the_next_run_seals_all_once(
    journal, alice, monkeypatch, grant
):
    grant(alice, "DIAMOND", 1)

    def dies(**kwargs):
        raise KeyboardInterrupt  # as a kill between the seal rows and COMMIT

    monkeypatch.setattr(seal, "event_record", dies)
    with pytest.raises(KeyboardInterrupt):
        journal_seal()
    assert (JournalBlock.objects.count(), JournalSeal.objects.count()) == (1, 3)

    monkeypatch.undo()
    journal_seal()
    assert JournalBlock.objects.count() == 2
    assert JournalSeal.objects.count() == JournalEntry.objects.count() == 4
    assert journal_verify().problems == []


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.parametrize("sealer_stopped", [False, True], ids=["sealer-running", "sealer-stopped-past-the-grace"])
def test_an_entry_that_commits_after_a_newer_one_was_sealed_goes_into_the_next_block(settings, grant, sealer_stopped):
    """The grace is counted between blocks: a sealer that was stopped for longer does not skip the late entry."""
    settings.JOURNAL_COMMIT_GRACE_SECONDS = 1 if sealer_stopped else 3600
    early, later = UserFactory(), UserFactory()  # consecutive ids: different issuance slots, no shared lock
    posted, go = threading.Event(), threading.Event()

    def slow_posting():
        try:
            with transaction.atomic():
                entry = grant(early, "DIAMOND", 7).entry
                posted.set()
                go.wait(10)
            return entry.pk
        finally:
            connections.close_all()

    result = []
    thread = threading.Thread(target=lambda: result.append(slow_posting()))
    thread.start()
    posted.wait(10)
    newer = grant(later, "DIAMOND", 3).entry
    journal_seal()
    go.set()
    thread.join()
    (older,) = result

    assert older < newer.pk
    assert JournalSeal.objects.get(entry_id=newer.pk).block_id == 1
    assert not JournalSeal.objects.filter(entry_id=older).exists()
    if sealer_stopped:
        time.sleep(1.5)
    journal_seal()
    assert JournalSeal.objects.get(entry_id=older).block_id == 2
    assert journal_verify().problems == []


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_sealers_make_one_chain_with_each_entry_once(settings, grant, run_in_threads):
    settings.JOURNAL_COMMIT_GRACE_SECONDS = 3600
    users = [UserFactory() for _ in range(30)]
    for user in users:
        grant(user, "DIAMOND", 1)

    results = run_in_threads(lambda _: journal_seal(block_size=7), 4)

    assert not [r for r in results if isinstance(r, Exception)]
    numbers = sorted(JournalBlock.objects.values_list("number", flat=True))
    assert numbers == list(range(1, len(numbers) + 1))
    assert JournalSeal.objects.count() == JournalEntry.objects.count()
    assert journal_verify().problems == []
