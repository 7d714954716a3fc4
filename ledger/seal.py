"""The journal's seal (SPEC §15): committed entries, hashed with their legs, in blocks chained by hash.

Off the posting path: `journal_seal` (a periodic task and `manage.py seal_journal`) reads what has
committed and writes blocks; no posting waits on it or writes anything for it.

**Which entries.** An entry is sealed when it has a row in `ledger_journal_seals` (keyed by entry id, so
it is in one block at most). Ids are not commit order: an id taken before another may commit after it
(a long transaction; on a Galera cluster each node hands out its own interleaved ids). So the sealer does
not take "ids above the last one sealed"; it takes every entry that has no seal row and whose id is above
a low-water mark, an anti-join over that window (one per run). The mark is `max_entry_seen` of the newest
block made more than JOURNAL_COMMIT_GRACE_SECONDS before the latest block: when that block was made, every
entry visible up to that id was sealed, and an entry with a lower id that was not visible then had its id
(and so began its transaction) before that moment. Once the grace has passed, such a transaction is over:
committed, and sealed by a later block, or rolled back for ever. The grace is counted between blocks, not
up to now, so a sealer that was stopped for a while moves no mark past an entry that committed meanwhile. An entry found unsealed below the mark has broken that
rule, or was inserted behind the sealer's back: `journal_verify` reports it, never seals it.

**Canonical form of an entry** (`entry_canonical`): the UTF-8 bytes of the JSON array
  ["backpack-entry-v1", id, business_type, business_id, fingerprint, actor_id or null, created_at, meta,
   [[leg id, account_id, asset_code, delta_available, delta_frozen, available_after, frozen_after, meta,
     created_at], ... legs in id order]]
written with sorted object keys, no spaces (separators "," and ":"), non-ASCII characters as they are,
integers exactly as decimal digits, times as UTC "YYYY-MM-DDTHH:MM:SS.ffffffZ". Its SHA-256 in hex is the
entry's hash.

**A block** holds up to BLOCK_MAX_ENTRIES entries in id order. Its Merkle root is over their hashes in
that order: a leaf is SHA-256(0x00 || entry hash bytes), a node SHA-256(0x01 || left || right), and an odd
node at the end of a level goes up unchanged. The block's hash is the SHA-256 of the JSON array
["backpack-block-v1", number, previous block's hash, merkle root, entry count, sealed_at] in the same
form; block 1's previous hash is GENESIS_HASH. The block, its seal rows and its `journal.sealed` event
(number, hash) are written in one transaction: a sealer that dies before COMMIT leaves nothing, and the
unique keys (block number, seal entry id) keep two sealers from forking the chain or sealing twice.
"""

import hashlib
import json
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from core.models import EventType
from core.services import event_record
from ledger.models import JournalBlock, JournalEntry, JournalLeg, JournalSeal

BLOCK_MAX_ENTRIES = 5000
GENESIS_HASH = "0" * 64
ENTRY_COLUMNS = ("id", "business_type", "business_id", "fingerprint", "actor_id", "created_at", "meta")
LEG_COLUMNS = (
    "entry_id",
    "id",
    "account_id",
    "asset_code",
    "delta_available",
    "delta_frozen",
    "available_after",
    "frozen_after",
    "meta",
    "created_at",
)
ENTRIES = JournalEntry._meta.db_table
SEALS = JournalSeal._meta.db_table
LEGS = JournalLeg._meta.db_table


def _canonical(value) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def _time(moment: datetime | str) -> str:
    """A stored time, as a raw cursor gives it (naive UTC; text on SQLite), in the canonical form."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.isoformat(timespec="microseconds") + "Z"


def entry_canonical(entry: tuple, legs: list[tuple]) -> bytes:
    """The bytes an entry is hashed as: `entry` in ENTRY_COLUMNS order, `legs` in LEG_COLUMNS order (JSON decoded)."""
    entry_id, business_type, business_id, fingerprint, actor_id, created_at, meta = entry
    rows = [[*leg[1:-1], _time(leg[-1])] for leg in sorted(legs, key=lambda leg: leg[1])]
    return _canonical(
        [
            "backpack-entry-v1",
            entry_id,
            business_type,
            business_id,
            fingerprint,
            actor_id,
            _time(created_at),
            meta,
            rows,
        ]
    )


def merkle_root(hashes: list[str]) -> str:
    level = [hashlib.sha256(b"\x00" + bytes.fromhex(h)).digest() for h in hashes]
    while len(level) > 1:
        paired = [hashlib.sha256(b"\x01" + level[i] + level[i + 1]).digest() for i in range(0, len(level) - 1, 2)]
        level = paired + level[len(level) - len(level) % 2 :]
    return level[0].hex()


def block_hash(*, number: int, previous_hash: str, root: str, entry_count: int, sealed_at: datetime) -> str:
    return hashlib.sha256(
        _canonical(["backpack-block-v1", number, previous_hash, root, entry_count, _time(sealed_at)])
    ).hexdigest()


def entry_hashes(entry_ids: list[int]) -> dict[int, str]:
    """{entry id: hash} of the entries that exist among these ids, read in two raw queries (the ORM's
    per-value conversions were most of a full verify's time)."""
    if not entry_ids:
        return {}
    marks = ", ".join(["%s"] * len(entry_ids))
    legs = defaultdict(list)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(LEG_COLUMNS)} FROM {LEGS} WHERE entry_id IN ({marks})", entry_ids)
        for leg in cursor.fetchall():
            legs[leg[0]].append((*leg[:-2], json.loads(leg[-2]), leg[-1]))
        cursor.execute(f"SELECT {', '.join(ENTRY_COLUMNS)} FROM {ENTRIES} WHERE id IN ({marks})", entry_ids)
        entries = cursor.fetchall()
    return {
        entry[0]: hashlib.sha256(entry_canonical((*entry[:-1], json.loads(entry[-1])), legs[entry[0]])).hexdigest()
        for entry in entries
    }


def block_latest() -> JournalBlock | None:
    return JournalBlock.objects.order_by("-number").first()


def low_water_mark() -> int:
    """Every entry with an id up to this is sealed (or broke the grace): see the module's docstring."""
    latest = block_latest()
    if latest is None:
        return 0
    settled = latest.sealed_at - timedelta(seconds=settings.JOURNAL_COMMIT_GRACE_SECONDS)
    block = JournalBlock.objects.filter(sealed_at__lte=settled).order_by("-number").values("max_entry_seen").first()
    return block["max_entry_seen"] if block else 0


def _unsealed_ids(*, above: int, limit: int | None = None) -> list[int]:
    sql = (
        f"SELECT e.id FROM {ENTRIES} e LEFT JOIN {SEALS} s ON s.entry_id = e.id"
        " WHERE e.id > %s AND s.entry_id IS NULL ORDER BY e.id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql + (" LIMIT %s" if limit else ""), [above, limit] if limit else [above])
        return [row[0] for row in cursor.fetchall()]


def journal_seal(*, block_size: int = BLOCK_MAX_ENTRIES, max_seconds: float | None = None) -> list[JournalBlock]:
    """Seal every committed entry not sealed yet, in blocks of up to `block_size`; the blocks written.

    One anti-join finds what to seal, then it goes into blocks in id order: a backlog costs one scan, not
    one per block. Stops when all of it is sealed, after `max_seconds`, or when another sealer wrote the
    next block first; what committed meanwhile is the next run's.
    """
    started, blocks = time.monotonic(), []
    newest = JournalEntry.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    ids = _unsealed_ids(above=low_water_mark())
    for start in range(0, len(ids), block_size):
        if max_seconds is not None and time.monotonic() - started >= max_seconds:
            break
        chunk = ids[start : start + block_size]
        # Every entry visible at the scan up to `seen` is sealed once this block is: up to its last entry,
        # or, for the scan's last block, up to the newest entry there was.
        seen = max(newest, chunk[-1]) if start + block_size >= len(ids) else chunk[-1]
        block = _block_seal(chunk, seen=seen)
        if block is None:
            break
        blocks.append(block)
    return blocks


def _block_seal(ids: list[int], *, seen: int) -> JournalBlock | None:
    previous = block_latest()
    hashes = entry_hashes(ids)
    leaves = [hashes[entry_id] for entry_id in ids]
    number, previous_hash = (previous.number + 1, previous.hash) if previous else (1, GENESIS_HASH)
    sealed_at = timezone.now()
    root = merkle_root(leaves)
    block = JournalBlock(
        number=number,
        previous_hash=previous_hash,
        merkle_root=root,
        hash=block_hash(
            number=number, previous_hash=previous_hash, root=root, entry_count=len(ids), sealed_at=sealed_at
        ),
        entry_count=len(ids),
        max_entry_seen=max(seen, previous.max_entry_seen if previous else 0),
        sealed_at=sealed_at,
    )
    try:
        with transaction.atomic():
            block.save()
            JournalSeal.objects.bulk_create(
                [
                    JournalSeal(entry_id=entry_id, block_id=number, position=position, entry_hash=leaf)
                    for position, (entry_id, leaf) in enumerate(zip(ids, leaves, strict=True))
                ],
                batch_size=1000,
            )
            event_record(event_type=EventType.JOURNAL_SEALED, data={"number": number, "hash": block.hash})
    except IntegrityError:  # another sealer wrote block `number`, or sealed one of these entries, first
        return None
    return block


@dataclass
class Verification:
    """What `journal_verify` found: problems (the reconciliation's discrepancy shape), first one first."""

    blocks: int = 0
    entries: int = 0
    problems: list[dict] = field(default_factory=list)
    pending: list[int] = field(default_factory=list)
    head: JournalBlock | None = None
    digest_found: bool | None = None

    def problem(self, check: str, *, expected, actual, **key) -> None:
        self.problems.append({"check": check, **key, "expected": expected, "actual": actual})


def journal_verify(*, from_block: int = 1, digest: str | None = None) -> Verification:
    """Recompute blocks from `from_block` on against the entries and legs as they are now.

    Names each block and entry that no longer matches; entries not sealed yet above the low-water mark are
    `pending` (not a problem); unsealed ones below it are problems, looked for in the whole journal when
    the chain is verified from block 1, else above the mark of block `from_block - 1`. With `digest`, the
    hash of a block held outside the database, says whether the verified chain contains it.
    """
    found = Verification()
    from_block = max(from_block, 1)
    before = JournalBlock.objects.filter(number=from_block - 1).first()
    if from_block > 1 and before is None:
        found.problem("block_chain", block=from_block - 1, expected="the block", actual="missing")
    previous_hash = before.hash if before else GENESIS_HASH
    number, hashes = from_block, set()
    blocks = JournalBlock.objects.filter(number__gte=from_block).order_by("number")
    for block in blocks.iterator(chunk_size=200):
        if block.number != number:
            found.problem("block_chain", block=number, expected="the block", actual="missing")
        _block_verify(block, previous_hash, found)
        if not found.problems:  # the digest counts only in a chain that verified up to it
            hashes.add(block.hash)
        previous_hash, number, found.head = block.hash, block.number + 1, block
        found.blocks += 1
    mark = low_water_mark()
    scan_from = 0 if from_block == 1 else (before.max_entry_seen if before else 0)
    for entry_id in _unsealed_ids(above=scan_from):
        if entry_id > mark:
            found.pending.append(entry_id)
        else:
            found.problem(
                "entry_sealed", entry_id=entry_id, expected="in a block", actual="not sealed, below the low-water mark"
            )
    if digest is not None:
        found.digest_found = digest in hashes
        if not found.digest_found:
            found.problem("digest_in_chain", digest=digest, expected="a block of the verified chain", actual="absent")
    return found


def _block_verify(block: JournalBlock, previous_hash: str, found: Verification) -> None:
    problems = len(found.problems)
    seals = list(block.seals.order_by("position").values_list("entry_id", "position", "entry_hash"))
    now = entry_hashes([entry_id for entry_id, _, _ in seals])
    found.entries += len(seals)
    positions = [position for _, position, _ in seals]
    if positions != list(range(block.entry_count)):
        missing = next((i for i, position in enumerate(positions) if position != i), len(positions))
        found.problem(
            "block_matches_entries",
            block=block.number,
            position=missing,
            expected=f"{block.entry_count} seal rows, at positions 0 on",
            actual=f"{len(seals)}, position {missing} missing or out of place",
        )
    for entry_id, _, sealed_hash in seals:
        if entry_id not in now:
            found.problem(
                "sealed_entry_matches",
                block=block.number,
                entry_id=entry_id,
                expected=sealed_hash,
                actual="entry deleted",
            )
        elif now[entry_id] != sealed_hash:
            found.problem(
                "sealed_entry_matches",
                block=block.number,
                entry_id=entry_id,
                expected=sealed_hash,
                actual=now[entry_id],
            )
    root = merkle_root([now.get(entry_id, sealed_hash) for entry_id, _, sealed_hash in seals]) if seals else ""
    if root != block.merkle_root and len(found.problems) == problems:
        found.problem("block_matches_entries", block=block.number, expected=block.merkle_root, actual=root)
    recomputed = block_hash(
        number=block.number,
        previous_hash=block.previous_hash,
        root=block.merkle_root,
        entry_count=block.entry_count,
        sealed_at=block.sealed_at,
    )
    if block.previous_hash != previous_hash or recomputed != block.hash:
        found.problem("block_chain", block=block.number, expected=recomputed, actual=block.hash)
