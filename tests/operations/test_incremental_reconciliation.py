"""The nightly run checks what changed since the last checkpoint; the weekly one checks everything."""

import threading

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, connections, transaction

from ledger import checkpoints
from ledger.models import Account, CheckpointSum, JournalCheckpoint, JournalEntry, JournalLeg
from ledger.seal import journal_seal
from ledger.selectors import journal_sums
from ledger.services import balance_adjust, balance_recalculate
from operations import reconciliation
from operations.models import RunKind, RunStatus
from operations.reconciliation import reconciliation_run
from tests.factories import OperatorFactory, UserFactory


@pytest.fixture(autouse=True)
def no_grace(settings):
    """Checkpoints go up to the newest leg at once."""
    settings.JOURNAL_COMMIT_GRACE_SECONDS = 0


@pytest.fixture
def checkpointed(db, alice, bob, grant):
    """Alice's and bob's grants, proven by a first (full) run."""
    grant(alice, "DIAMOND", 100)
    grant(bob, "DIAMOND", 50)
    run = reconciliation_run()
    assert (run.kind, run.status) == (RunKind.FULL, RunStatus.PASSED)
    return JournalCheckpoint.objects.get()


@pytest.fixture
def operator(db):
    return OperatorFactory()


def account(user) -> int:
    return Account.objects.get(user=user).pk


@pytest.fixture
def drift(execute_sql):
    def drift(user, amount: int = 1) -> None:
        """A balance row moved behind the services' back, without a leg and without touching updated_at."""
        execute_sql(
            "UPDATE account_asset_balances SET available_amount = available_amount + %s"
            " WHERE account_id = %s AND asset_code = 'DIAMOND'",
            [amount, account(user)],
        )

    return drift


def found(run) -> set[str]:
    return {problem["check"] for problem in run.discrepancies}


def checkpoint_of(user) -> tuple[int, int]:
    row = CheckpointSum.objects.get(account_id=account(user), asset_id="DIAMOND")
    return row.available, row.frozen


@pytest.mark.django_db
def test_the_next_run_is_incremental_and_moves_the_checkpoint_over_the_new_legs(checkpointed, alice, grant):
    grant(alice, "DIAMOND", 7)

    run = reconciliation_run()

    assert (run.kind, run.status) == (RunKind.INCREMENTAL, RunStatus.PASSED)
    latest = JournalCheckpoint.objects.order_by("-number").first()
    assert (latest.number, latest.kind) == (2, "incremental")
    assert latest.through_leg_id > checkpointed.through_leg_id
    assert checkpoint_of(alice) == (107, 0)
    assert latest.asset_totals == {"DIAMOND": 0}


@pytest.mark.django_db
@pytest.mark.parametrize("full", [False, True])
def test_a_drift_on_a_row_with_only_old_legs_is_found(checkpointed, bob, full, drift):
    drift(bob)

    run = reconciliation_run(full=full)

    assert run.status == RunStatus.FAILED
    assert found(run) == {"balance_matches_journal", "asset_sums_to_zero"}
    assert JournalCheckpoint.objects.count() == 1  # a run that found something proves nothing


@pytest.mark.django_db
@pytest.mark.parametrize("full", [False, True])
def test_a_drift_on_a_row_with_new_legs_is_found(checkpointed, alice, full, drift, grant):
    grant(alice, "DIAMOND", 5)
    drift(alice, -2)

    run = reconciliation_run(full=full)

    (problem,) = [p for p in run.discrepancies if p["check"] == "balance_matches_journal"]
    assert (problem["account_id"], problem["expected"], problem["actual"]) == (
        account(alice),
        {"available": 105, "frozen": 0},
        {"available": 103, "frozen": 0},
    )


@pytest.mark.django_db
def test_an_unbalanced_new_entry_is_found(checkpointed, alice, execute_sql, grant):
    entry = grant(alice, "DIAMOND", 5).entry
    execute_sql("DELETE FROM asset_transactions WHERE entry_id = %s AND account_id <> %s", [entry.pk, account(alice)])

    assert "entry_balances" in found(reconciliation_run())


@pytest.mark.django_db
def test_a_repair_between_runs_is_taken_as_it_is(checkpointed, alice, bob, operator, drift):
    drift(bob, 3)
    assert reconciliation_run().status == RunStatus.FAILED

    balance_recalculate(actor=operator, account_id=account(bob), asset_code="DIAMOND", reason="drift")
    balance_adjust(actor=operator, user_id=alice.pk, asset_code="DIAMOND", delta=-4, reason="wrong prize", key="t-1")

    assert reconciliation_run().status == RunStatus.PASSED
    assert (checkpoint_of(alice), checkpoint_of(bob)) == ((96, 0), (50, 0))


@pytest.mark.django_db
def test_a_run_that_dies_leaves_the_checkpoint_as_it_was(checkpointed, alice, monkeypatch, grant):
    grant(alice, "DIAMOND", 9)

    def dies():
        raise RuntimeError("the database went away")

    monkeypatch.setattr(reconciliation, "LIVE_CHECKS", (dies,))
    assert reconciliation_run().status == RunStatus.ERROR
    monkeypatch.undo()
    # Half-way through writing the checkpoint: its row and sums written, its totals not (the incremental
    # run's own check of the totals, which would die first, stands aside).
    monkeypatch.setattr(checkpoints.LedgerProof, "checkpoint_intact", lambda self: [])
    monkeypatch.setattr(checkpoints, "_asset_totals", dies)
    assert reconciliation_run().status == RunStatus.ERROR

    assert list(JournalCheckpoint.objects.values_list("number", flat=True)) == [1]
    assert checkpoint_of(alice) == (100, 0)
    monkeypatch.undo()
    assert reconciliation_run().status == RunStatus.PASSED
    assert checkpoint_of(alice) == (109, 0)


@pytest.mark.django_db
def test_an_edited_checkpoint_is_found_by_both_runs(checkpointed, alice, execute_sql):
    execute_sql("UPDATE ledger_checkpoint_sums SET available = available + 1 WHERE account_id = %s", [account(alice)])

    assert found(reconciliation_run()) == {"checkpoint_intact"}  # alice's row itself is recomputed: it is right
    assert found(reconciliation_run(full=True)) == {"checkpoint_matches_journal", "checkpoint_intact"}


@pytest.mark.django_db
def test_a_full_run_replaces_an_edited_checkpoint_once_the_journal_is_clean(checkpointed, alice, execute_sql):
    execute_sql("UPDATE ledger_checkpoint_sums SET available = available + 1 WHERE account_id = %s", [account(alice)])
    execute_sql(
        "INSERT INTO ledger_checkpoint_sums (account_id, asset_code, available, frozen) VALUES (%s, 'blue_shard', 5, 0)",
        [account(alice)],
    )

    full = reconciliation_run(full=True)

    assert (full.status, found(full)) == (RunStatus.FAILED, {"checkpoint_matches_journal", "checkpoint_intact"})
    latest = JournalCheckpoint.objects.order_by("-number").first()
    assert (latest.number, latest.kind, latest.asset_totals) == (2, "full", {"DIAMOND": 0})
    assert checkpoint_of(alice) == (100, 0)
    assert not CheckpointSum.objects.filter(asset_id="blue_shard").exists()
    assert reconciliation_run().status == RunStatus.PASSED


@pytest.mark.django_db
def test_the_incremental_run_verifies_the_blocks_sealed_since_the_last_run(checkpointed, alice, execute_sql, grant):
    old = JournalEntry.objects.order_by("pk").first()
    journal_seal()
    assert reconciliation_run().status == RunStatus.PASSED
    new = grant(alice, "DIAMOND", 1).entry
    journal_seal()
    for entry in (old, new):
        execute_sql("UPDATE asset_journal_entries SET meta = '{\"edited\": 1}' WHERE id = %s", [entry.pk])

    incremental, full = reconciliation_run(), reconciliation_run(full=True)

    assert [p["entry_id"] for p in incremental.discrepancies] == [new.pk]
    assert [p["entry_id"] for p in full.discrepancies] == [old.pk, new.pk]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "sql",
    [
        "INSERT INTO ledger_checkpoints (number, kind, through_leg_id, verified_block, asset_totals, created_at)"
        " SELECT number, kind, through_leg_id, verified_block, asset_totals, created_at FROM ledger_checkpoints",
        "INSERT INTO ledger_checkpoint_sums (account_id, asset_code, available, frozen)"
        " SELECT account_id, asset_code, available, frozen FROM ledger_checkpoint_sums",
    ],
    ids=["two checkpoints of one number", "two sums of one account and asset"],
)
def test_database_refuses_a_second_checkpoint_or_sum_of_one_key(checkpointed, sql):
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql)


@pytest.mark.django_db
def test_reconcile_ledger_full_says_so(checkpointed, capsys):
    call_command("reconcile_ledger", "--full")

    assert "(full): Passed" in capsys.readouterr().out


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_leg_that_commits_after_the_checkpoint_passed_its_id_is_recomputed_not_missed_nor_an_alarm(drift, grant):
    late_user, other = UserFactory(), UserFactory()  # consecutive ids: different issuance slots, no shared lock
    grant(late_user, "DIAMOND", 10)
    posted, go = threading.Event(), threading.Event()

    def slow_posting():
        try:
            with transaction.atomic():
                grant(late_user, "DIAMOND", 7)
                posted.set()
                go.wait(10)
        finally:
            connections.close_all()

    thread = threading.Thread(target=slow_posting)
    thread.start()
    posted.wait(10)
    grant(other, "DIAMOND", 3)  # commits first, with a higher id
    assert reconciliation_run().status == RunStatus.PASSED
    go.set()
    thread.join()
    late_leg = JournalLeg.objects.filter(account_id=account(late_user)).order_by("-pk")[0].pk
    assert late_leg < JournalCheckpoint.objects.get().through_leg_id
    assert checkpoint_of(late_user) == (10, 0)  # the checkpoint went past the late leg's id without it

    run = reconciliation_run()

    assert (run.kind, run.status) == (RunKind.INCREMENTAL, RunStatus.PASSED)
    assert (
        checkpoint_of(late_user)
        == (17, 0)
        == tuple(journal_sums(account_id=account(late_user), asset_code="DIAMOND").values())
    )
    drift(late_user)
    assert found(reconciliation_run()) == {"balance_matches_journal", "asset_sums_to_zero"}
