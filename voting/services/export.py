"""Exporting a meeting's election record (docs/PROTOCOL.md section 11).

    export_record(session, meeting, signer=, now=) -> ExportedRecord   (files as bytes)
    write_record(files, out) -> Path                                   (folder, or zip)

The record holds what an observer needs to check the decision offline with `voting verify`:
the roll snapshot (house numbers, areas, holder refs; no names, no ID numbers), every
certificate of a card whose ballot or proxy is in the record and their revocations, the
issuer keys, the meeting with its rules and motions, every signed ballot (every version) and
proxy, the paper double entries, the published results, the log leaves all of these refer
to, and the log key. The files are written by `voting.domain.record`, whose decoders the
verifier uses.

Anchoring: the manifest (every content file's SHA-256) is hashed into a "record.export" log
entry, and a checkpoint covering that entry is signed in the same transaction
(`logtree.checkpoint_at_close`). The checkpoint, the anchor entry and the audit-path hashes
of every leaf the record uses are written last. So every byte of every file is tied to a
signed checkpoint: changing, adding, removing or reordering anything makes `verify` fail.
Besides, everything that matters is also bound to the log entries made when it happened
(ballot hashes and signatures, the roll hash at opening, motion hashes at notice, result
hashes at the tally), which `verify` checks one by one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crypto.statements import format_time
from voting.domain import record as rec
from voting.domain.procedure import MeetingState
from voting.models import (
    Ballot,
    Building,
    Card,
    CountedBallot,
    Holder,
    HolderKind,
    IssuerKey,
    LogEntry,
    Meeting,
    MotionResult,
    PaperEntry,
    PaperResolution,
    PropertyArea,
    Proxy,
    RollEntry,
    RollVersion,
    Unit,
    utcnow,
)
from voting.services import NotFound, ServiceError, log, use_case
from voting.services.logtree import LogSigner, StoredTree, checkpoint_at_close
from voting.services.meetings import meeting_rules, motion_spec

__all__ = ["ExportRefused", "ExportedRecord", "export_record", "write_record"]

#: States whose ballot box is locked: a record of an open meeting would be out of date.
EXPORTABLE = frozenset({MeetingState.closed, MeetingState.published, MeetingState.annulled})
_MEETING_KINDS = ("meeting.notice", "meeting.open", "meeting.close", "meeting.publish")
_MOTION_KINDS = ("motion.add", "motion.update", "motion.remove")
_QUERY_CHUNK = 5_000
#: A fixed date for the members of a zip file, so that one record gives one zip file.
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


class ExportRefused(ServiceError):
    """The meeting cannot be exported (yet); nothing was written."""


@dataclass(frozen=True)
class ExportedRecord:
    files: dict[str, bytes]
    meeting: int
    area: str
    anchor_index: int
    checkpoint_size: int
    ballots: int
    certificates: int


def _time(moment: dt.datetime | None) -> str | None:
    return None if moment is None else format_time(moment)


def _entries_of_kinds(
    session: Session, area: PropertyArea, kinds: Iterable[str]
) -> list[tuple[int, str, dict[str, Any]]]:
    """(seq, kind, data) of the area's log entries of these kinds, in log order."""
    rows = session.execute(
        select(LogEntry.seq, LogEntry.kind, LogEntry.entry)
        .where(LogEntry.property_area_id == area.id, LogEntry.kind.in_(list(kinds)))
        .order_by(LogEntry.seq)
    )
    return [(int(seq), kind, json.loads(entry)["data"]) for seq, kind, entry in rows]


def _meeting_record(
    session: Session, meeting: Meeting, area: PropertyArea, signer: LogSigner
) -> rec.MeetingRecord:
    steps: dict[str, int] = {}
    motions: list[int] = []
    kinds = (*_MEETING_KINDS, "meeting.annul", *_MOTION_KINDS)
    for seq, kind, data in _entries_of_kinds(session, area, kinds):
        if data.get("meeting") != meeting.id:
            continue
        if kind in _MOTION_KINDS:
            motions.append(seq)
        else:
            steps[kind] = seq
    rules = meeting_rules(meeting)
    if rules is None or "meeting.notice" not in steps or "meeting.open" not in steps:
        raise ExportRefused(f"meeting {meeting.id} was never noticed and opened")
    assert meeting.notice_posted_at and meeting.window_opens_at and meeting.window_closes_at
    assert meeting.opened_at and meeting.roll_sha256
    version = session.get(RollVersion, meeting.roll_version_id)
    assert version is not None
    return rec.MeetingRecord(
        platform=signer.platform,
        area=area.code,
        log_origin=signer.origin(area),
        id=meeting.id,
        title=meeting.title,
        state=meeting.state,
        notice_posted_at=format_time(meeting.notice_posted_at),
        window_opens_at=format_time(meeting.window_opens_at),
        window_closes_at=format_time(meeting.window_closes_at),
        opened_at=format_time(meeting.opened_at),
        closed_at=_time(meeting.closed_at),
        published_at=_time(meeting.published_at),
        annulled_at=_time(meeting.annulled_at),
        roll_version=version.number,
        roll_sha256=meeting.roll_sha256,
        rules=rules,
        motions=tuple(rec.MotionRecord(m.id, m.position, motion_spec(m)) for m in meeting.motions),
        log=rec.MeetingLog(
            notice=steps["meeting.notice"],
            open=steps["meeting.open"],
            close=steps.get("meeting.close"),
            publish=steps.get("meeting.publish"),
            annul=steps.get("meeting.annul"),
            motions=tuple(motions),
        ),
    )


def _roll(session: Session, meeting: Meeting) -> list[rec.RollUnit]:
    rows = session.execute(
        select(
            Building.name,
            Unit.number,
            RollEntry.area_centi,
            RollEntry.area_source,
            RollEntry.status,
            RollEntry.is_parking,
            Holder.ref,
            Holder.kind,
        )
        .select_from(RollEntry)
        .join(Unit, RollEntry.unit_id == Unit.id)
        .join(Building, Unit.building_id == Building.id)
        .join(Holder, RollEntry.holder_id == Holder.id)
        .where(RollEntry.roll_version_id == meeting.roll_version_id)
    )
    return [
        rec.RollUnit(
            building,
            number,
            area,
            source.value,
            status.value,
            parking,
            ref,
            kind is HolderKind.developer,
        )
        for building, number, area, source, status, parking, ref, kind in rows
    ]


def _card_issues(session: Session, area: PropertyArea, cards: set[str]) -> dict[str, int]:
    """Card number -> seq of its "card.issue" entry."""
    found: dict[str, int] = {}
    for seq, _kind, data in _entries_of_kinds(session, area, ["card.issue"]):
        card = data.get("card")
        if card in cards:
            found.setdefault(card, seq)
    return found


def _revocations(
    session: Session, area: PropertyArea, cards: set[str]
) -> list[rec.RevocationRecord]:
    rows = session.execute(
        select(LogEntry.seq, LogEntry.entry).where(
            LogEntry.property_area_id == area.id, LogEntry.kind == "card.revoke"
        )
    )
    found = []
    for seq, entry in rows:
        value = json.loads(entry)
        if value["data"].get("card") in cards:
            found.append(rec.RevocationRecord(value["data"]["card"], value["time"], int(seq)))
    return found


def _ballots(session: Session, meeting: Meeting) -> tuple[list[rec.BallotRecord], set[int]]:
    counted = set(
        session.scalars(
            select(CountedBallot.ballot_id)
            .join(Ballot, CountedBallot.ballot_id == Ballot.id)
            .where(Ballot.meeting_id == meeting.id)
        )
    )
    rows = session.execute(
        select(Ballot.id, Ballot.log_seq, Ballot.statement, Ballot.signature, Ballot.card_id)
        .where(Ballot.meeting_id == meeting.id)
        .order_by(Ballot.log_seq)
    )
    ballots, cards = [], set()
    for ballot_id, seq, statement, signature, card_id in rows:
        ballots.append(rec.BallotRecord(int(seq), statement, signature, ballot_id in counted))
        cards.add(card_id)
    return ballots, cards


def _proxies(
    session: Session, area: PropertyArea, meeting: Meeting
) -> tuple[list[rec.ProxyRecord], set[int]]:
    withdrawals = {
        data.get("statement"): seq
        for seq, _kind, data in _entries_of_kinds(session, area, ["proxy.withdraw"])
        if data.get("meeting") == meeting.id
    }
    proxies, cards = [], set()
    for proxy in session.scalars(
        select(Proxy).where(Proxy.meeting_id == meeting.id).order_by(Proxy.log_seq)
    ):
        withdrawn = withdrawals.get(proxy.statement_hash) if proxy.withdrawn_at else None
        proxies.append(rec.ProxyRecord(proxy.log_seq, proxy.statement, proxy.signature, withdrawn))
        cards.add(proxy.owner_card_id)
    return proxies, cards


def _paper(session: Session, meeting: Meeting) -> list[rec.PaperRecord]:
    entries = session.scalars(select(PaperEntry.log_seq).where(PaperEntry.meeting_id == meeting.id))
    resolutions = session.scalars(
        select(PaperResolution.log_seq).where(PaperResolution.meeting_id == meeting.id)
    )
    return [rec.PaperRecord(int(seq), "paper.entry") for seq in entries] + [
        rec.PaperRecord(int(seq), "paper.resolve") for seq in resolutions
    ]


def _results(session: Session, meeting: Meeting) -> list[rec.ResultRecord]:
    found = []
    for row in session.scalars(select(MotionResult).where(MotionResult.meeting_id == meeting.id)):
        try:
            value = rec.loads(row.result)
        except ValueError as exc:
            raise ExportRefused(
                f"the stored result of motion {row.motion_id} is not canonical JSON: {exc}"
            ) from exc
        if hashlib.sha256(row.result).hexdigest() != row.result_sha256:
            raise ExportRefused(f"the stored result of motion {row.motion_id} has been changed")
        found.append(rec.ResultRecord(row.motion_id, int(row.log_seq), value))
    return found


def _leaves(session: Session, area: PropertyArea, indices: set[int]) -> list[rec.LeafRecord]:
    wanted = sorted(indices)
    found: list[rec.LeafRecord] = []
    for start in range(0, len(wanted), _QUERY_CHUNK):
        chunk = wanted[start : start + _QUERY_CHUNK]
        rows = session.execute(
            select(LogEntry.seq, LogEntry.entry).where(
                LogEntry.property_area_id == area.id, LogEntry.seq.in_(chunk)
            )
        )
        found.extend(rec.LeafRecord(int(seq), entry) for seq, entry in rows)
    if len(found) != len(wanted):
        missing = sorted(set(wanted) - {leaf.index for leaf in found})
        raise ExportRefused(f"log entries {missing[:5]} are missing from the log")
    return found


def _content(
    session: Session, meeting: Meeting, area: PropertyArea, signer: LogSigner
) -> tuple[dict[str, bytes], set[int], int, int]:
    """The content files, the leaf indices they use, and the ballot and certificate counts."""
    record = _meeting_record(session, meeting, area, signer)
    ballots, ballot_cards = _ballots(session, meeting)
    proxies, proxy_cards = _proxies(session, area, meeting)
    paper = _paper(session, meeting)
    results = _results(session, meeting)
    cards = list(session.scalars(select(Card).where(Card.id.in_(ballot_cards | proxy_cards))))
    numbers = {card.number for card in cards}
    issued = _card_issues(session, area, numbers)
    missing = sorted(numbers - set(issued))
    if missing:
        raise ExportRefused(f"cards {', '.join(missing[:5])} have no card.issue log entry")
    issuer_ids = {card.issuer_key_id for card in cards}
    issuer_keys = list(
        session.scalars(select(IssuerKey.public_key).where(IssuerKey.id.in_(issuer_ids)))
    )
    certificates = [
        rec.CertificateRecord(card.certificate, card.certificate_signature, issued[card.number])
        for card in cards
    ]
    revocations = _revocations(session, area, numbers)
    indices = set(record.log.indices())
    indices.update(c.log_index for c in certificates)
    indices.update(r.log_index for r in revocations)
    indices.update(b.log_index for b in ballots)
    indices.update(p.log_index for p in proxies)
    indices.update(p.withdrawn for p in proxies if p.withdrawn is not None)
    indices.update(p.log_index for p in paper)
    indices.update(r.log_index for r in results)
    files = {
        rec.MEETING: record.encode(),
        rec.ROLL: rec.encode_roll(_roll(session, meeting)),
        rec.CERTIFICATES: rec.encode_certificates(issuer_keys, certificates),
        rec.REVOCATIONS: rec.encode_revocations(revocations),
        rec.BALLOTS: rec.encode_ballots(ballots),
        rec.PROXIES: rec.encode_proxies(proxies),
        rec.PAPER: rec.encode_paper(paper),
        rec.RESULTS: rec.encode_results(results),
        rec.LEAVES: rec.encode_leaves(_leaves(session, area, indices)),
        rec.LOG_KEY: rec.encode_log_key(signer.verifier.encode()),
    }
    return files, indices, len(ballots), len(certificates)


@use_case
def _anchor(
    session: Session,
    area: PropertyArea,
    meeting_id: int,
    manifest: bytes,
    signer: LogSigner,
    now: dt.datetime,
) -> tuple[LogEntry, int, bytes, bytes]:
    """Log the manifest's hash and sign a checkpoint covering it, in one transaction."""
    data = {"meeting": meeting_id, "manifest_sha256": hashlib.sha256(manifest).hexdigest()}
    entry = log.append(session, area, rec.EXPORT_KIND, data, at=now)
    checkpoint = checkpoint_at_close(session, area, signer, now)
    return entry, int(checkpoint.size), checkpoint.note, checkpoint.root_hash


def _proofs(
    session: Session, area: PropertyArea, indices: Iterable[int], size: int, root: bytes
) -> rec.Proofs:
    ranges = rec.audit_ranges(sorted(indices), size)
    tree = StoredTree(session, area.id, size)
    for start in range(0, len(ranges), 500):
        tree.prefetch(ranges[start : start + 500])
    if tree.root() != root:
        raise ExportRefused("the stored log does not hash to the checkpoint's root")
    return rec.Proofs.of(size, ranges, tree.subtree)


def export_record(
    session: Session,
    meeting: Meeting,
    *,
    signer: LogSigner,
    now: dt.datetime | None = None,
) -> ExportedRecord:
    """Build the election record of a closed, published or annulled meeting, log its
    manifest and sign a checkpoint over it; return every file's bytes."""
    when = (now or utcnow()).replace(microsecond=0)
    area = session.get(PropertyArea, meeting.property_area_id)
    if area is None:
        raise NotFound(f"meeting {meeting.id} has no property area")
    session.refresh(meeting)
    if meeting.state not in EXPORTABLE:
        raise ExportRefused(
            f"meeting {meeting.id} is {meeting.state.value}: a record can be exported once "
            "the meeting is closed"
        )
    files, indices, ballots, certificates = _content(session, meeting, area, signer)
    manifest = rec.Manifest.of(area.code, meeting.id, files).encode()
    session.rollback()  # end the reading transaction before the writing one
    entry, size, note, root = _anchor(session, area, meeting.id, manifest, signer, when)
    proofs = _proofs(session, area, {*indices, entry.seq}, size, root)
    session.rollback()
    files[rec.MANIFEST] = manifest
    files[rec.ANCHOR] = rec.encode_anchor(rec.LeafRecord(entry.seq, entry.entry))
    files[rec.CHECKPOINT] = note
    files[rec.PROOFS] = proofs.encode()
    return ExportedRecord(
        files=files,
        meeting=meeting.id,
        area=area.code,
        anchor_index=entry.seq,
        checkpoint_size=size,
        ballots=ballots,
        certificates=certificates,
    )


def write_record(files: Mapping[str, bytes], out: str | os.PathLike[str]) -> Path:
    """Write the record as a new folder, or as a zip file when `out` ends in ".zip".

    Refuses an existing path (a record is never mixed with another's files). The folder or
    zip is written under a temporary name and renamed into place, so `out` never holds half
    a record.
    """
    target = Path(out)
    if target.exists() or target.is_symlink():
        raise ExportRefused(f"{target} already exists; choose a new name")
    parent = target.parent
    if not parent.is_dir():
        raise ExportRefused(f"folder {parent} does not exist")
    temporary = parent / f".{target.name}.{os.getpid()}.tmp"
    try:
        if target.suffix.lower() == ".zip":
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
                for name in sorted(files):
                    info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
                    info.compress_type = zipfile.ZIP_DEFLATED
                    info.external_attr = 0o644 << 16
                    archive.writestr(info, files[name])
            temporary.write_bytes(buffer.getvalue())
        else:
            temporary.mkdir()
            for name in sorted(files):
                (temporary / name).write_bytes(files[name])
        os.rename(temporary, target)
    except OSError as exc:
        raise ExportRefused(f"cannot write {target}: {exc.strerror or exc}") from exc
    finally:
        if temporary.is_dir():
            for child in temporary.iterdir():
                child.unlink()
            temporary.rmdir()
        elif temporary.exists():
            temporary.unlink()
    return target
