"""Check an area's log against everything derived from it (`voting log check`).

Recomputes every leaf hash from the stored entry bytes and the whole tree from them, then
compares with what the database keeps: the leaf-hash column, the stored subtree nodes, every
checkpoint ever signed (signature and root at its size) and the signed objects whose log
entries vouch for them — ballots and proxy authorisations (statement hash, signature,
the card's signature over the statement, and the columns the tally reads).

Read-only. A finding names the first log index, node or checkpoint that does not hold; the
check goes on after a finding so that one run shows the extent of the damage.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.orm import Session, aliased

from crypto.canonical import canonical_bytes, parse_canonical
from crypto.checkpoint import NoteVerifier, open_checkpoint
from crypto.errors import CryptoError
from crypto.keys import PublicKey
from crypto.merkle import MerkleTree, leaf_hash
from voting.models import (
    Ballot,
    Card,
    Checkpoint,
    Holder,
    LogEntry,
    LogHead,
    LogNode,
    PropertyArea,
    Proxy,
)

_BATCH = 5000


@dataclass(frozen=True)
class Finding:
    """One thing that does not hold. `index` is the log index concerned, when there is one;
    `checkpoint` the size of the checkpoint concerned."""

    text: str
    index: int | None = None
    checkpoint: int | None = None


@dataclass
class LogReport:
    area: str
    size: int = 0
    root: bytes = b""
    checkpoints: int = 0
    nodes: int = 0
    ballots: int = 0
    proxies: int = 0
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    @property
    def first_bad_index(self) -> int | None:
        indexes = [f.index for f in self.findings if f.index is not None]
        return min(indexes) if indexes else None

    @property
    def first_bad_checkpoint(self) -> int | None:
        sizes = [f.checkpoint for f in self.findings if f.checkpoint is not None]
        return min(sizes) if sizes else None

    def add(self, text: str, *, index: int | None = None, checkpoint: int | None = None) -> None:
        self.findings.append(Finding(text, index, checkpoint))


def _rows(session: Session, area: PropertyArea) -> Iterator[tuple[int, bytes, bytes]]:
    position = 0
    while True:
        rows = session.execute(
            select(LogEntry.seq, LogEntry.entry, LogEntry.leaf_hash)
            .where(LogEntry.property_area_id == area.id, LogEntry.seq >= position)
            .order_by(LogEntry.seq)
            .limit(_BATCH)
        ).all()
        if not rows:
            return
        for seq, entry, stored in rows:
            yield int(seq), bytes(entry), bytes(stored)
        position = int(rows[-1][0]) + 1


def _parse_entry(entry: bytes) -> dict[str, Any] | None:
    """The entry as a JSON object, if it is exactly canonical JSON (else None)."""
    try:
        return dict(parse_canonical(entry))
    except CryptoError:
        return None


def _check_entries(
    session: Session, area: PropertyArea, report: LogReport
) -> tuple[MerkleTree, dict[int, dict[str, Any] | None], set[int]]:
    """Leaf hashes recomputed from the entry bytes; the entries of ballots and proxies are
    kept parsed for the later checks; the indexes whose stored leaf hash differs."""
    tree = MerkleTree()
    bad_leaves: set[int] = set()
    kept: dict[int, dict[str, Any] | None] = {}
    wanted = set(
        session.scalars(select(Ballot.log_seq).where(Ballot.property_area_id == area.id))
    ) | set(session.scalars(select(Proxy.log_seq).where(Proxy.property_area_id == area.id)))
    for seq, entry, stored in _rows(session, area):
        if seq != tree.size:
            report.add(f"entries {tree.size}–{seq - 1} are missing", index=tree.size)
            while tree.size < seq:  # keep later indexes aligned; the roots will not match
                tree.append(hashlib.sha256(b"missing").digest())
        recomputed = leaf_hash(entry)
        tree.append(recomputed)
        if not hmac.compare_digest(recomputed, stored):
            bad_leaves.add(seq)
            report.add(
                f"entry {seq}: the stored leaf hash does not match the entry bytes", index=seq
            )
        parsed = _parse_entry(entry)
        if parsed is None:
            report.add(f"entry {seq}: not canonical JSON", index=seq)
        elif parsed.get("seq") != seq or parsed.get("area") != area.code:
            report.add(f"entry {seq}: names another index or area", index=seq)
        if seq in wanted:
            kept[seq] = parsed
    head = session.scalar(select(LogHead.size).where(LogHead.property_area_id == area.id))
    if int(head or 0) != tree.size:
        report.add(
            f"the log head says {int(head or 0)} entries, the log has {tree.size}",
            index=min(tree.size, int(head or 0)),
        )
    return tree, kept, bad_leaves


def _check_nodes(
    session: Session, area: PropertyArea, tree: MerkleTree, bad_leaves: set[int], report: LogReport
) -> None:
    """Stored nodes against the recomputed tree. A differing node whose differing child
    (a node, or a leaf whose stored hash differs) explains it is reported without an index;
    the lowest unexplained ones name where the damage starts."""
    rows = session.execute(
        select(LogNode.level, LogNode.index, LogNode.hash)
        .where(LogNode.property_area_id == area.id)
        .order_by(LogNode.level, LogNode.index)
    )
    differing: list[tuple[int, int]] = []
    for level, index, value in rows:
        report.nodes += 1
        start, end = index << level, (index + 1) << level
        if level < 1 or end > tree.size:
            report.add(
                f"stored node (level {level}, index {index}) lies beyond the log", index=start
            )
        elif not hmac.compare_digest(tree.levels[level][index], value):
            differing.append((level, index))
    known = set(differing)
    for level, index in differing:
        start, end = index << level, (index + 1) << level
        text = (
            f"stored node (level {level}, index {index}) over entries {start}–{end - 1} "
            "does not match the entries"
        )
        children = (2 * index, 2 * index + 1)
        if level == 1:
            explained = any(child in bad_leaves for child in children)
        else:
            explained = any((level - 1, child) in known for child in children)
        report.add(text, index=None if explained else start)


def _check_checkpoints(
    session: Session,
    area: PropertyArea,
    tree: MerkleTree,
    verifier: NoteVerifier | None,
    origin: str,
    report: LogReport,
) -> None:
    rows = session.scalars(
        select(Checkpoint).where(Checkpoint.property_area_id == area.id).order_by(Checkpoint.size)
    )
    for row in rows:
        report.checkpoints += 1
        size = int(row.size)
        if verifier is not None:
            try:
                parsed = open_checkpoint(bytes(row.note), [verifier], origin=origin)
            except CryptoError as exc:
                report.add(f"checkpoint of size {size}: {exc}", checkpoint=size)
                continue
            if parsed.size != size or parsed.root_hash != row.root_hash:
                report.add(
                    f"checkpoint of size {size}: the signed note says size {parsed.size} and "
                    "another root than the stored columns",
                    checkpoint=size,
                )
                continue
        if size > tree.size:
            report.add(
                f"checkpoint of size {size} is beyond the log of {tree.size} entries",
                checkpoint=size,
            )
        elif not hmac.compare_digest(tree.root(size), bytes(row.root_hash)):
            report.add(
                f"checkpoint of size {size}: its root is not the root of the first {size} entries",
                checkpoint=size,
            )


def _signature_of(data: dict[str, Any]) -> bytes | None:
    """The signature a log entry names: standard base64 or base64url."""
    text = data.get("signature")
    if not isinstance(text, str):
        return None
    try:
        if "-" in text or "_" in text or not text.endswith("="):
            return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def _verify(public_key: str, statement: bytes, signature: bytes) -> bool:
    try:
        PublicKey.from_hex(public_key).verify(statement, signature)
    except CryptoError:
        return False
    return True


def _choice_text(value: Any) -> str | None:
    """The choice as the ballots table keeps it (canonical JSON, candidates sorted)."""
    try:
        return canonical_bytes(sorted(value) if isinstance(value, list) else value).decode()
    except (CryptoError, TypeError):
        return None


def _check_ballots(
    session: Session,
    area: PropertyArea,
    entries: dict[int, dict[str, Any] | None],
    report: LogReport,
) -> None:
    rows = session.execute(
        select(Ballot, Holder.ref, Card.public_key)
        .join(Holder, Ballot.holder_id == Holder.id)
        .join(Card, Ballot.card_id == Card.id)
        .where(Ballot.property_area_id == area.id)
        .order_by(Ballot.log_seq)
    )
    for ballot, voter, public_key in rows:
        report.ballots += 1
        seq = int(ballot.log_seq)
        where = f"ballot {ballot.id} (log index {seq})"
        parsed = entries.get(seq)
        data = parsed.get("data") if parsed is not None else None
        if parsed is None or parsed.get("kind") != "ballot" or not isinstance(data, dict):
            report.add(f"{where}: its log entry is not a ballot entry", index=seq)
            continue
        statement, signature = bytes(ballot.statement), bytes(ballot.signature)
        digest = hashlib.sha256(statement).hexdigest()
        problems = []
        if data.get("ballot") != digest or ballot.ballot_hash != digest:
            problems.append("the statement does not hash to the logged ballot hash")
        if _signature_of(data) != signature:
            problems.append("the signature is not the logged one")
        if not _verify(public_key, statement, signature):
            problems.append("the signature does not verify with the card's key")
        if (data.get("meeting"), data.get("motion"), data.get("voter")) != (
            ballot.meeting_id,
            ballot.motion_id,
            voter,
        ):
            problems.append("meeting, motion or voter differ from the log entry")
        signed = _parse_entry(statement) or {}
        if (
            signed.get("nonce") != ballot.nonce
            or "choice" not in signed
            or _choice_text(signed["choice"]) != ballot.choice
        ):
            problems.append("the stored choice or nonce differs from the signed statement")
        for problem in problems:
            report.add(f"{where}: {problem}", index=seq)


def _check_proxies(
    session: Session,
    area: PropertyArea,
    entries: dict[int, dict[str, Any] | None],
    report: LogReport,
) -> None:
    owner, proxy_holder = aliased(Holder), aliased(Holder)
    rows = session.execute(
        select(Proxy, owner.ref, proxy_holder.ref, Card.public_key)
        .join(owner, Proxy.owner_holder_id == owner.id)
        .join(proxy_holder, Proxy.proxy_holder_id == proxy_holder.id)
        .join(Card, and_(Proxy.owner_card_id == Card.id))
        .where(Proxy.property_area_id == area.id)
        .order_by(Proxy.log_seq)
    )
    for proxy, owner_ref, proxy_ref, public_key in rows:
        report.proxies += 1
        seq = int(proxy.log_seq)
        where = f"proxy {proxy.id} (log index {seq})"
        parsed = entries.get(seq)
        data = parsed.get("data") if parsed is not None else None
        if parsed is None or parsed.get("kind") != "proxy" or not isinstance(data, dict):
            report.add(f"{where}: its log entry is not a proxy entry", index=seq)
            continue
        statement, signature = bytes(proxy.statement), bytes(proxy.signature)
        digest = hashlib.sha256(statement).hexdigest()
        # The statement hash is logged as "statement"; "proxy" names the proxy holder.
        logged = data.get("statement", data.get("proxy"))
        problems = []
        if logged != digest or proxy.statement_hash != digest:
            problems.append("the statement does not hash to the logged statement hash")
        if _signature_of(data) != signature:
            problems.append("the signature is not the logged one")
        if not _verify(public_key, statement, signature):
            problems.append("the signature does not verify with the owner's card key")
        if data.get("meeting") != proxy.meeting_id or data.get("owner", owner_ref) != owner_ref:
            problems.append("meeting or owner differ from the log entry")
        if "statement" in data and data.get("proxy") != proxy_ref:
            problems.append("the proxy holder differs from the log entry")
        for problem in problems:
            report.add(f"{where}: {problem}", index=seq)


def check_log(
    session: Session, area: PropertyArea, verifier: NoteVerifier | None, origin: str
) -> LogReport:
    """Check the area's log and all that is derived from it; see the module docstring.

    `verifier` checks the checkpoint signatures (None: skip them, e.g. no key yet).
    """
    report = LogReport(area=area.code)
    tree, entries, bad_leaves = _check_entries(session, area, report)
    report.size = tree.size
    report.root = tree.root()
    _check_nodes(session, area, tree, bad_leaves, report)
    _check_checkpoints(session, area, tree, verifier, origin, report)
    _check_ballots(session, area, entries, report)
    _check_proxies(session, area, entries, report)
    return report
