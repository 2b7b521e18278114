"""Stored Merkle tree nodes, proofs served from them, and signed checkpoints of an area's log.

`log.append` only adds a leaf (the ballot path stays one small insert). The hashes of complete
subtrees ([j·2^h, (j+1)·2^h) for h ≥ 1) are stored as `LogNode` rows by `update_nodes`,
which runs when a checkpoint is signed and lazily before a proof is served for a size that
the stored nodes do not cover yet. Leaves (h = 0) are not copied: they are the `leaf_hash`
column of `log_entries`.

Every range that RFC 9162's PATH and SUBPROOF ask for splits into O(log n) aligned complete
subtrees; `StoredTree` collects them first and reads them in at most two queries, so a root,
inclusion or consistency proof for any size up to the current one costs two reads whatever
the size of the log (docs/PROTOCOL.md section 7.3).

Checkpoints (section 8) are signed with the platform's log key (`instance/log-key`, a
32-byte seed of mode 0600, created on first use like the issuer key). The origin of an
area's log is "<PLATFORM_ID>/log/<area code>"; the key name is PLATFORM_ID, so one
verifier key checks the checkpoints of every area.

    sign_checkpoint(session, area, signer, now)      use case: a fresh checkpoint, at most
                                                     one new one per second and area
    checkpoint_at_close(session, area, signer, now)  the same inside the caller's transaction
                                                     (meeting close), without the rate limit
"""

from __future__ import annotations

import datetime as dt
import functools
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from flask import Flask
from sqlalchemy import TextClause, bindparam, func, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from crypto.checkpoint import NoteVerifier
from crypto.checkpoint import sign_checkpoint as sign_checkpoint_note
from crypto.keys import CardKey, load_or_create_seed_file
from crypto.merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    SubtreeHash,
    consistency_proof,
    inclusion_proof,
    node_hash,
)
from voting.models import Checkpoint, LogEntry, LogHead, LogNode, PropertyArea
from voting.services import ServiceError, use_case

__all__ = [
    "MIN_CHECKPOINT_INTERVAL",
    "LogSigner",
    "ProofRefused",
    "StoredTree",
    "aligned_pieces",
    "checkpoint_at_close",
    "checkpoints_of",
    "consistency_proof_at",
    "find_leaf",
    "inclusion_proof_at",
    "latest_checkpoint",
    "load_log_key",
    "load_log_signer",
    "log_size",
    "nodes_cover",
    "prepare_proofs",
    "refresh_nodes",
    "root_at",
    "sign_checkpoint",
    "stored_size",
    "update_nodes",
]

#: A second checkpoint of one area within this interval is not signed (the latest is returned).
MIN_CHECKPOINT_INTERVAL = dt.timedelta(seconds=1)
LOG_KEY_FILE = "log-key"
#: Leaves read per query while nodes are built; nodes written per statement.
_CHUNK = 20_000
#: First key of the PostgreSQL advisory lock that serialises node building and signing.
_ADVISORY_NAMESPACE = 0x4C4F47  # "LOG"


class ProofRefused(ServiceError):
    """A proof or range that cannot be given (sizes out of range, unknown leaf)."""


# --- the log key ---------------------------------------------------------------------------


@dataclass(frozen=True)
class LogSigner:
    """The platform's log key and the name it signs under (PLATFORM_ID)."""

    platform: str
    key: CardKey

    @property
    def verifier(self) -> NoteVerifier:
        return NoteVerifier(self.platform, self.key.public_key)

    def origin(self, area: PropertyArea) -> str:
        """The log's name in its checkpoints: "<platform>/log/<area code>"."""
        return f"{self.platform}/log/{area.code}"


def load_log_key(app: Flask) -> CardKey:
    """The log key: VOTING_LOG_KEY_PATH, else <instance>/log-key (created 0600 on first use)."""
    path = app.config.get("VOTING_LOG_KEY_PATH")
    if not path:
        os.makedirs(app.instance_path, exist_ok=True)
        path = os.path.join(app.instance_path, LOG_KEY_FILE)
    return load_or_create_seed_file(path)


def load_log_signer(app: Flask) -> LogSigner:
    return LogSigner(str(app.config["VOTING_PLATFORM_ID"]), load_log_key(app))


# --- sizes --------------------------------------------------------------------------------


def log_size(session: Session, area: PropertyArea) -> int:
    """The number of entries in the area's log, as this transaction sees it."""
    size = session.scalar(select(LogHead.size).where(LogHead.property_area_id == area.id))
    return int(size or 0)


def _max_index(session: Session, area_id: int, level: int) -> int | None:
    found = session.scalar(
        select(func.max(LogNode.index)).where(
            LogNode.property_area_id == area_id, LogNode.level == level
        )
    )
    return None if found is None else int(found)


def stored_size(session: Session, area: PropertyArea) -> int:
    """The largest even size L such that every complete subtree of height ≥ 1 within the first
    L leaves is stored: where `update_nodes` starts.

    One indexed MAX per level; the level with no node bounds L by 2^h − 1.
    """
    bound: int | None = None
    level = 1
    while level < 64:
        top = _max_index(session, area.id, level)
        count = 0 if top is None else top + 1
        # floor(L / 2^level) <= count  <=>  L <= (count + 1) * 2^level - 1
        limit = ((count + 1) << level) - 1
        bound = limit if bound is None else min(bound, limit)
        if top is None:
            break
        level += 1
    return (bound or 0) & ~1


def nodes_cover(session: Session, area: PropertyArea, size: int) -> bool:
    """Whether the stored nodes serve every proof up to `size`: one primary-key lookup of the
    last level-1 node below it (`update_nodes` stores all levels of a size at once)."""
    pairs = size // 2
    if pairs == 0:
        return True
    found = session.get(LogNode, (area.id, 1, pairs - 1))
    return found is not None


def _lock_tree(session: Session, area: PropertyArea) -> None:
    """One writer of an area's nodes and checkpoints at a time, until the transaction ends:
    a PostgreSQL advisory lock (re-entrant; appends never take it, so they never wait for
    it). Without it, a close signing its checkpoint and a proof request building nodes
    could insert the same nodes in different orders and deadlock. SQLite has one writer."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT pg_advisory_xact_lock(:namespace, :area)"),
            {"namespace": _ADVISORY_NAMESPACE, "area": area.id},
        )


# --- building nodes --------------------------------------------------------------------------


def _insert_nodes(session: Session, area_id: int, rows: list[tuple[int, int, bytes]]) -> None:
    """Insert nodes, skipping those a concurrent updater stored first (same hashes)."""
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(LogNode).on_conflict_do_nothing(
        index_elements=[LogNode.property_area_id, LogNode.level, LogNode.index]
    )
    for start in range(0, len(rows), _CHUNK):
        session.execute(
            statement,
            [
                {"property_area_id": area_id, "level": h, "index": i, "hash": value}
                for h, i, value in rows[start : start + _CHUNK]
            ],
        )


def _leaf_hashes(session: Session, area_id: int, start: int, end: int) -> Iterator[bytes]:
    """Leaf hashes [start, end) in order, read in chunks; a gap is an error."""
    position = start
    while position < end:
        stop = min(end, position + _CHUNK)
        rows = session.execute(
            select(LogEntry.seq, LogEntry.leaf_hash)
            .where(
                LogEntry.property_area_id == area_id,
                LogEntry.seq >= position,
                LogEntry.seq < stop,
            )
            .order_by(LogEntry.seq)
        ).all()
        for seq, value in rows:
            if seq != position:
                raise LookupError(f"log entry {position} is missing")
            yield value
            position += 1
        if position < stop:
            raise LookupError(f"log entry {position} is missing")


def update_nodes(session: Session, area: PropertyArea, size: int | None = None) -> int:
    """Store every complete subtree (height ≥ 1) within the first `size` leaves (default: the
    whole log). Runs in the caller's transaction; returns the size now covered.

    Only the leaves after the stored part are read, plus the O(log n) stored roots of the
    complete subtrees that the new leaves extend (the "frontier").
    """
    _lock_tree(session, area)
    target = log_size(session, area) if size is None else size
    start = stored_size(session, area)
    if target & ~1 <= start:
        return max(start, target & ~1)
    # The frontier at `start`: for each bit h of start, the root of the complete subtree of
    # height h that is still waiting for its right sibling.
    frontier: dict[int, bytes] = {}
    wanted = [(h, (start >> h) - 1) for h in range(1, start.bit_length()) if start >> h & 1]
    if wanted:
        tree = StoredTree(session, area.id, start)
        tree.prefetch_pieces(wanted)
        frontier = {h: tree.piece(h, index) for h, index in wanted}
    rows: list[tuple[int, int, bytes]] = []
    for position, leaf in enumerate(_leaf_hashes(session, area.id, start, target), start):
        current, index, height = leaf, position, 0
        while index & 1:
            current = node_hash(frontier.pop(height), current)
            index >>= 1
            height += 1
            rows.append((height, index, current))
        frontier[height] = current
        if len(rows) >= _CHUNK:
            _insert_nodes(session, area.id, rows)
            rows = []
    _insert_nodes(session, area.id, rows)
    session.flush()
    return target & ~1


@use_case
def refresh_nodes(session: Session, area: PropertyArea) -> int:
    """`update_nodes` as its own transaction, for the lazy update before a proof is served."""
    return update_nodes(session, area)


def prepare_proofs(session: Session, area: PropertyArea, size: int) -> None:
    """Make sure the stored nodes serve proofs up to `size` (a write only when they do not)."""
    if not nodes_cover(session, area, size):
        refresh_nodes(session, area)


# --- serving from stored nodes ---------------------------------------------------------------


def aligned_pieces(start: int, end: int) -> list[tuple[int, int]]:
    """[start, end) as the aligned complete subtrees (height, index) that MTH splits it into."""
    pieces: list[tuple[int, int]] = []
    stack = [(start, end)]
    while stack:
        low, high = stack.pop()
        count = high - low
        if count & (count - 1) == 0 and low % count == 0:
            height = count.bit_length() - 1
            pieces.append((height, low >> height))
            continue
        middle = low + (1 << ((count - 1).bit_length() - 1))
        stack.append((middle, high))
        stack.append((low, middle))
    return pieces


_LEAVES = select(LogEntry.seq, LogEntry.leaf_hash).where(
    LogEntry.property_area_id == bindparam("area"),
    LogEntry.seq.in_(bindparam("seqs", expanding=True)),
)


@functools.lru_cache(maxsize=256)
def _nodes_query(count: int) -> TextClause:
    """`count` primary-key lookups of log_nodes in one statement, built once per count.

    A UNION ALL of exact lookups: an OR of (level, index) pairs, or a row-value IN, makes
    SQLite scan all of the area's nodes; and building the statement per proof with the
    expression language costs more than running it.
    """
    one = (
        'SELECT level, "index", hash FROM log_nodes '
        'WHERE property_area_id = :area AND level = :h{n} AND "index" = :i{n}'
    )
    return text(" UNION ALL ".join(one.format(n=n) for n in range(count)))


class StoredTree:
    """The tree of the first `size` leaves of an area's log, read from stored nodes.

    `subtree(start, end)` uses the stored hash when [start, end) is an aligned complete
    subtree and recurses otherwise; hashes read are kept for the life of the object.
    `prefetch` reads all the pieces of many ranges in two queries. A stored node that is
    missing (damaged store) is recomputed from its children rather than failing.
    """

    def __init__(self, session: Session, area_id: int, size: int) -> None:
        self._session = session
        self._area_id = area_id
        self.size = size
        self._hashes: dict[tuple[int, int], bytes] = {}
        self.reads = 0

    def piece(self, height: int, index: int) -> bytes:
        key = (height, index)
        if key not in self._hashes:
            self.prefetch_pieces([key])
        return self._hashes[key]

    def prefetch(self, ranges: Iterable[tuple[int, int]]) -> None:
        wanted: set[tuple[int, int]] = set()
        for start, end in ranges:
            self._check_range(start, end)
            wanted.update(aligned_pieces(start, end))
        self.prefetch_pieces(wanted)

    def prefetch_pieces(self, pieces: Iterable[tuple[int, int]]) -> None:
        missing = {key for key in pieces if key not in self._hashes}
        if not missing:
            return
        leaves = sorted(index for height, index in missing if height == 0)
        if leaves:
            self.reads += 1
            rows = self._session.execute(_LEAVES, {"area": self._area_id, "seqs": leaves})
            for seq, value in rows:
                self._hashes[(0, int(seq))] = value
        nodes = sorted(key for key in missing if key[0] > 0)
        if nodes:
            self.reads += 1
            params: dict[str, int] = {"area": self._area_id}
            for number, (height, index) in enumerate(nodes):
                params[f"h{number}"] = height
                params[f"i{number}"] = index
            for height, index, value in self._session.execute(_nodes_query(len(nodes)), params):
                self._hashes[(int(height), int(index))] = value
        for height, index in missing - self._hashes.keys():
            if height == 0:
                raise LookupError(f"log entry {index} is missing")
            # Not stored: rebuild from the two halves (only a damaged store gets here).
            self.prefetch_pieces([(height - 1, 2 * index), (height - 1, 2 * index + 1)])
            self._hashes[(height, index)] = node_hash(
                self._hashes[(height - 1, 2 * index)], self._hashes[(height - 1, 2 * index + 1)]
            )

    def _check_range(self, start: int, end: int) -> None:
        if not 0 <= start < end <= self.size:
            raise ValueError(f"range [{start}, {end}) is not inside a tree of {self.size}")

    def subtree(self, start: int, end: int) -> bytes:
        """MTH(D[start:end]) for 0 <= start < end <= size."""
        self._check_range(start, end)
        count = end - start
        if count & (count - 1) == 0 and start % count == 0:
            height = count.bit_length() - 1
            return self.piece(height, start >> height)
        middle = start + (1 << ((count - 1).bit_length() - 1))
        return node_hash(self.subtree(start, middle), self.subtree(middle, end))

    def _planned(self, proof: Callable[[SubtreeHash], list[bytes]]) -> list[bytes]:
        """Run a proof algorithm twice: once to learn which ranges it asks for (its choices
        never depend on hash values), then on the hashes read in one batch."""
        ranges: list[tuple[int, int]] = []

        def record(start: int, end: int) -> bytes:
            ranges.append((start, end))
            return EMPTY_ROOT

        proof(record)
        self.prefetch(ranges)
        return proof(self.subtree)

    def root(self) -> bytes:
        if self.size == 0:
            return EMPTY_ROOT
        self.prefetch([(0, self.size)])
        return self.subtree(0, self.size)

    def inclusion_proof(self, index: int) -> list[bytes]:
        return self._planned(lambda subtree: inclusion_proof(index, self.size, subtree))

    def consistency_proof(self, size1: int) -> list[bytes]:
        return self._planned(lambda subtree: consistency_proof(size1, self.size, subtree))


def _tree(session: Session, area: PropertyArea, size: int) -> StoredTree:
    current = log_size(session, area)
    if not 0 <= size <= current:
        raise ProofRefused(f"tree size {size} is beyond the log's size {current}")
    return StoredTree(session, area.id, size)


def root_at(session: Session, area: PropertyArea, size: int) -> bytes:
    """MTH of the first `size` entries, from stored nodes (call `prepare_proofs` first)."""
    return _tree(session, area, size).root()


def inclusion_proof_at(session: Session, area: PropertyArea, index: int, size: int) -> list[bytes]:
    """PATH(index, D[0:size]) from stored nodes (call `prepare_proofs` first)."""
    if not 0 <= index < size:
        raise ProofRefused(f"leaf {index} is not in a tree of size {size}")
    return _tree(session, area, size).inclusion_proof(index)


def consistency_proof_at(
    session: Session, area: PropertyArea, size1: int, size2: int
) -> list[bytes]:
    """PROOF(size1, D[0:size2]) from stored nodes; empty for equal sizes."""
    if size1 < 1:
        raise ProofRefused("a consistency proof from the empty tree proves nothing")
    if size1 > size2:
        raise ProofRefused(f"first size {size1} is larger than second size {size2}")
    return _tree(session, area, size2).consistency_proof(size1)


def find_leaf(session: Session, area: PropertyArea, leaf: bytes, size: int) -> int:
    """The index of the first entry below `size` with this leaf hash, else ProofRefused."""
    if len(leaf) != HASH_SIZE:
        raise ProofRefused(f"a leaf hash is {HASH_SIZE} bytes")
    seq = session.scalar(
        select(LogEntry.seq)
        .where(
            LogEntry.property_area_id == area.id,
            LogEntry.leaf_hash == leaf,
            LogEntry.seq < size,
        )
        .order_by(LogEntry.seq)
        .limit(1)
    )
    if seq is None:
        raise ProofRefused(f"no entry with this leaf hash in the first {size} entries")
    return int(seq)


# --- checkpoints -------------------------------------------------------------------------------


def latest_checkpoint(session: Session, area: PropertyArea) -> Checkpoint | None:
    return session.scalar(
        select(Checkpoint)
        .where(Checkpoint.property_area_id == area.id)
        .order_by(Checkpoint.size.desc())
        .limit(1)
    )


def checkpoints_of(session: Session, area: PropertyArea) -> list[Checkpoint]:
    return list(
        session.scalars(
            select(Checkpoint)
            .where(Checkpoint.property_area_id == area.id)
            .order_by(Checkpoint.size)
        )
    )


def _sign(
    session: Session,
    area: PropertyArea,
    signer: LogSigner,
    now: dt.datetime,
    *,
    min_interval: dt.timedelta | None,
) -> Checkpoint:
    _lock_tree(session, area)
    latest = latest_checkpoint(session, area)
    size = log_size(session, area)
    if latest is not None:
        if latest.size >= size:
            return latest
        if min_interval is not None and now - latest.created_at < min_interval:
            return latest
    update_nodes(session, area, size)
    root = StoredTree(session, area.id, size).root()
    note = sign_checkpoint_note(signer.origin(area), size, root, signer.platform, signer.key)
    row = Checkpoint(property_area_id=area.id, size=size, root_hash=root, note=note, created_at=now)
    session.add(row)
    session.flush()
    return row


@use_case
def sign_checkpoint(
    session: Session, area: PropertyArea, signer: LogSigner, now: dt.datetime
) -> Checkpoint:
    """A checkpoint of the area's whole log: brings the stored nodes up to date, signs and
    stores it. Returns the latest checkpoint instead when it already has the log's size, or
    when it was signed less than `MIN_CHECKPOINT_INTERVAL` before `now` (anyone may ask)."""
    return _sign(session, area, signer, now, min_interval=MIN_CHECKPOINT_INTERVAL)


def checkpoint_at_close(
    session: Session, area: PropertyArea, signer: LogSigner, now: dt.datetime
) -> Checkpoint:
    """Sign a checkpoint inside the caller's transaction, e.g. right after a meeting close
    has appended its "meeting.close" entry, so that the checkpoint covers it and commits or
    rolls back with the close. Not a use case: never commits. No rate limit (a close always
    gets its checkpoint); like `sign_checkpoint` it returns the latest checkpoint when the
    log has not grown since. On PostgreSQL it holds the area's signing lock until the
    caller's transaction ends."""
    return _sign(session, area, signer, now, min_interval=None)
