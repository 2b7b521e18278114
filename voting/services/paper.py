"""Paper ballots: the double entry, its resolution, and what the tally counts.

    enter_paper(session, meeting, holder_ref, choices, image_sha256, user_id, now) -> Outcome
    resolve_paper(session, meeting, holder_ref, decision, reason, user_id, now) -> PaperSheet
    sheets_of_meeting(session, meeting) -> [SheetView]
    find_voter(session, meeting, text) -> Holder | None     by holder ref or house number
    counted_paper(session, motion) -> [(holder ref, Choice)]
    superseded_paper(session, meeting) -> [Superseded]

Two staff members enter each sheet independently, each with the SHA-256 of the scanned
image of the sheet (the image stays with the committee; only its hash is recorded). The
sheet counts once two entries by different users agree exactly, or once a committee admin
who made neither entry has chosen one of them; a discard sets both aside and two fresh
entries are needed. Entries and resolutions are accepted only while the meeting is open and
inside its voting window, like electronic ballots: the ballot box locks at the close, and a
sheet not settled by then does not count. The rules themselves are the pure functions of
`voting.domain.paper`.

An electronic ballot of the same voter on a motion supersedes the paper one (RULES.md):
`counted_paper` leaves out every voter with a counted electronic ballot on the motion, and
`superseded_paper` lists those paper choices so that the result can report them.

Concurrency: the meeting row is share-locked as for ballots (a close waits for entries in
flight), and the sheet row is created with an upsert and then row-locked, so two entries of
one sheet are decided one after the other; the unique keys of `paper_entries` back this up.
Log entries ("paper.entry", "paper.resolve") carry holder refs, image hashes, choices and
user ids, never names; a resolution's free-text reason is logged as its SHA-256.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, and_, exists, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from crypto.canonical import JSONValue, canonical_bytes
from voting.domain.ballot import BallotError, parse_choice
from voting.domain.paper import (
    COUNTING,
    Comparison,
    Decision,
    PaperError,
    SheetStatus,
    check_entry,
    check_resolution,
    compare_entries,
    parse_image_sha256,
    parse_reason,
)
from voting.domain.procedure import ProcedureError, check_ballot
from voting.domain.tally import Choice
from voting.models import (
    Ballot,
    Building,
    CountedBallot,
    Holder,
    Meeting,
    Motion,
    PaperEntry,
    PaperResolution,
    PaperSheet,
    PropertyArea,
    RollEntry,
    Unit,
    User,
)
from voting.permissions import Action, can
from voting.services import ServiceError, log, use_case
from voting.services.ballots import eligible_motions, voter_buildings

__all__ = [
    "Outcome",
    "PaperRefused",
    "SheetView",
    "Superseded",
    "counted_paper",
    "enter_paper",
    "entry_choices",
    "find_voter",
    "resolve_paper",
    "sheets_of_meeting",
    "superseded_paper",
    "voter_houses",
]


class PaperRefused(ServiceError):
    """A refused entry or resolution; nothing was stored. `status` is the HTTP status the web
    answers with, `reason` a stable code, `motion` the motion concerned (if any)."""

    def __init__(
        self, status: int, message: str, reason: str, *, motion: Motion | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.motion = motion


@dataclass(frozen=True)
class Outcome:
    """What an entry did: the sheet's new status and, for a second entry, the comparison."""

    sheet: PaperSheet
    entry: PaperEntry
    status: SheetStatus
    comparison: Comparison | None


@dataclass(frozen=True)
class SheetView:
    sheet: PaperSheet
    holder_ref: str
    entries: tuple[PaperEntry, ...]  # the current round's, by position
    comparison: Comparison | None  # when the current round has two entries
    resolutions: tuple[PaperResolution, ...]  # every round's, oldest first
    earlier_entries: int  # entries of discarded rounds
    superseded: tuple[int, ...]  # motions where an electronic ballot counts instead

    @property
    def accepted(self) -> PaperEntry | None:
        position = self.sheet.accepted_position
        return None if position is None else self.entries[position - 1]


@dataclass(frozen=True)
class Superseded:
    """A counting paper choice set aside because the voter's electronic ballot counts."""

    holder_ref: str
    motion_id: int
    choice: Choice
    ballot_hash: str  # the electronic ballot that counts


# --- reading ----------------------------------------------------------------------------


def _choice(value: Any) -> Choice:
    return frozenset(value) if isinstance(value, list) else str(value)


def entry_choices(entry: PaperEntry) -> dict[int, Choice]:
    """An entry's choices by motion id."""
    raw: dict[str, Any] = json.loads(entry.choices)
    return {int(motion): _choice(value) for motion, value in raw.items()}


def _choice_texts(entry: PaperEntry) -> dict[int, str]:
    """Motion id -> canonical JSON of the choice: what the comparison compares."""
    raw: dict[str, JSONValue] = json.loads(entry.choices)
    return {int(motion): canonical_bytes(value).decode() for motion, value in raw.items()}


def _compare(first: PaperEntry, second: PaperEntry) -> Comparison:
    return compare_entries(
        _choice_texts(first), first.image_sha256, _choice_texts(second), second.image_sha256
    )


def _round_entries(session: Session, sheet: PaperSheet) -> list[PaperEntry]:
    return list(
        session.scalars(
            select(PaperEntry)
            .where(PaperEntry.sheet_id == sheet.id, PaperEntry.round == sheet.round)
            .order_by(PaperEntry.position)
        )
    )


def find_voter(session: Session, meeting: Meeting, text: str) -> Holder | None:
    """The voter of the meeting's roll snapshot with this holder ref or house number
    ("1号楼 1-101", blanks optional), or None."""
    if meeting.roll_version_id is None or not isinstance(text, str):
        return None
    wanted = "".join(text.split())
    if not wanted or len(wanted) > 120:
        return None
    in_snapshot = select(RollEntry.holder_id).where(
        RollEntry.roll_version_id == meeting.roll_version_id
    )
    holder = session.scalar(
        select(Holder).where(
            Holder.property_area_id == meeting.property_area_id,
            Holder.ref == wanted.upper(),
            Holder.id.in_(in_snapshot),
        )
    )
    if holder is not None:
        return holder
    buildings = session.execute(
        select(Building.id, Building.name).where(
            Building.property_area_id == meeting.property_area_id
        )
    ).all()
    for building_id, name in sorted(buildings, key=lambda b: -len("".join(b[1].split()))):
        prefix = "".join(name.split())
        if not wanted.startswith(prefix) or len(wanted) == len(prefix):
            continue
        number = wanted[len(prefix) :]
        rows = session.execute(
            select(Unit.number, RollEntry.holder_id)
            .join(RollEntry, RollEntry.unit_id == Unit.id)
            .where(
                Unit.building_id == building_id,
                RollEntry.roll_version_id == meeting.roll_version_id,
            )
        )
        for unit_number, holder_id in rows:
            if "".join(unit_number.split()) == number:
                return session.get(Holder, holder_id)
    return None


def voter_houses(
    session: Session, meeting: Meeting, holder_ids: Iterable[int]
) -> dict[int, list[str]]:
    """House numbers ("1号楼 1-101") of these holders in the meeting's roll snapshot."""
    ids = set(holder_ids)
    if meeting.roll_version_id is None or not ids:
        return {}
    rows = session.execute(
        select(RollEntry.holder_id, Building.name, Unit.number)
        .select_from(RollEntry)
        .join(Unit, RollEntry.unit_id == Unit.id)
        .join(Building, Unit.building_id == Building.id)
        .where(RollEntry.roll_version_id == meeting.roll_version_id, RollEntry.holder_id.in_(ids))
        .order_by(Building.name, Unit.number)
    )
    houses: dict[int, list[str]] = {}
    for holder_id, building, number in rows:
        houses.setdefault(holder_id, []).append(f"{building} {number}")
    return houses


def sheets_of_meeting(session: Session, meeting: Meeting) -> list[SheetView]:
    """Every paper sheet of the meeting: mismatches first, then pending, then the rest."""
    sheets = list(
        session.scalars(
            select(PaperSheet)
            .where(PaperSheet.meeting_id == meeting.id)
            .execution_options(populate_existing=True)
        )
    )
    if not sheets:
        return []
    entries: dict[int, list[PaperEntry]] = {}
    for entry in session.scalars(
        select(PaperEntry)
        .where(PaperEntry.meeting_id == meeting.id)
        .order_by(PaperEntry.round, PaperEntry.position)
    ):
        entries.setdefault(entry.sheet_id, []).append(entry)
    resolutions: dict[int, list[PaperResolution]] = {}
    for resolution in session.scalars(
        select(PaperResolution)
        .where(PaperResolution.meeting_id == meeting.id)
        .order_by(PaperResolution.round)
    ):
        resolutions.setdefault(resolution.sheet_id, []).append(resolution)
    superseded: dict[str, list[int]] = {}
    for item in superseded_paper(session, meeting):
        superseded.setdefault(item.holder_ref, []).append(item.motion_id)
    order = {status: index for index, status in enumerate(_LIST_ORDER)}
    views = []
    for sheet in sheets:
        all_entries = entries.get(sheet.id, [])
        current = tuple(e for e in all_entries if e.round == sheet.round)
        ref = sheet.holder.ref
        views.append(
            SheetView(
                sheet=sheet,
                holder_ref=ref,
                entries=current,
                comparison=_compare(*current) if len(current) == 2 else None,
                resolutions=tuple(resolutions.get(sheet.id, ())),
                earlier_entries=len(all_entries) - len(current),
                superseded=tuple(superseded.get(ref, ())),
            )
        )
    views.sort(key=lambda v: (order[v.sheet.status], v.holder_ref))
    return views


_LIST_ORDER = (
    SheetStatus.mismatch,
    SheetStatus.pending,
    SheetStatus.discarded,
    SheetStatus.matched,
    SheetStatus.resolved,
)


def _accepted_query(meeting_id: int) -> Select[int, str, str]:
    """(holder id, holder ref, choices JSON) of every sheet of the meeting that counts, by
    holder ref."""
    return (
        select(PaperSheet.holder_id, Holder.ref, PaperEntry.choices)
        .select_from(PaperSheet)
        .join(
            PaperEntry,
            and_(
                PaperEntry.sheet_id == PaperSheet.id,
                PaperEntry.round == PaperSheet.round,
                PaperEntry.position == PaperSheet.accepted_position,
            ),
        )
        .join(Holder, PaperSheet.holder_id == Holder.id)
        .where(PaperSheet.meeting_id == meeting_id, PaperSheet.status.in_(COUNTING))
        .order_by(Holder.ref)
    )


def counted_paper(session: Session, motion: Motion) -> list[tuple[str, Choice]]:
    """The paper choices the tally counts on a motion: (holder ref, choice), by holder ref.

    Only sheets that are matched or resolved count, and only where the voter has no counted
    electronic ballot on the motion (that one supersedes the paper one).
    """
    electronic = exists().where(
        CountedBallot.motion_id == motion.id, CountedBallot.holder_id == PaperSheet.holder_id
    )
    key = str(motion.id)
    result: list[tuple[str, Choice]] = []
    for _holder_id, ref, text in session.execute(
        _accepted_query(motion.meeting_id).where(~electronic)
    ):
        choices: dict[str, Any] = json.loads(text)
        if key in choices:
            result.append((ref, _choice(choices[key])))
    return result


def superseded_paper(session: Session, meeting: Meeting) -> list[Superseded]:
    """Counting paper choices set aside because the voter's electronic ballot counts on that
    motion, by motion position and holder ref."""
    accepted = [(h, r, c) for h, r, c in session.execute(_accepted_query(meeting.id))]
    if not accepted:
        return []
    positions = {m.id: m.position for m in meeting.motions}
    electronic = {
        (motion_id, holder_id): ballot_hash
        for motion_id, holder_id, ballot_hash in session.execute(
            select(CountedBallot.motion_id, CountedBallot.holder_id, Ballot.ballot_hash)
            .join(Ballot, CountedBallot.ballot_id == Ballot.id)
            .where(
                CountedBallot.motion_id.in_(positions),
                CountedBallot.holder_id.in_({holder_id for holder_id, _r, _c in accepted}),
            )
        )
    }
    found = []
    for holder_id, ref, text in accepted:
        choices: dict[str, Any] = json.loads(text)
        for motion, value in choices.items():
            ballot_hash = electronic.get((int(motion), holder_id))
            if ballot_hash is not None:
                found.append(Superseded(ref, int(motion), _choice(value), ballot_hash))
    found.sort(key=lambda s: (positions.get(s.motion_id, 0), s.holder_ref))
    return found


# --- the use cases ------------------------------------------------------------------------


def _staff(session: Session, user_id: int, area: PropertyArea) -> User:
    user = session.get(User, user_id) if isinstance(user_id, int) else None
    if user is None or not can(user, Action.enter_paper, area):
        raise PaperRefused(403, "this user may not enter paper ballots in this area", "user")
    return user


def _open_meeting(
    session: Session, meeting: Meeting, now: dt.datetime
) -> tuple[Meeting, PropertyArea]:
    """Share-lock the meeting (re-read) and check that voting is open now."""
    locked = session.scalar(
        select(Meeting)
        .where(Meeting.id == meeting.id)
        .with_for_update(read=True)
        .execution_options(populate_existing=True)
    )
    if locked is None:
        raise PaperRefused(404, f"meeting {meeting.id} does not exist", "meeting")
    if locked.window_opens_at is None or locked.window_closes_at is None:
        raise PaperRefused(409, "voting has not been opened for this meeting", "not_open")
    try:
        check_ballot(locked.state, locked.window_opens_at, locked.window_closes_at, now)
    except ProcedureError as exc:
        raise PaperRefused(
            409,
            f"paper ballots are accepted only while voting is open, until the close: {exc}",
            "not_open",
        ) from exc
    area = session.get(PropertyArea, locked.property_area_id)
    assert area is not None
    return locked, area


def _voter(session: Session, meeting: Meeting, holder_ref: str) -> Holder:
    holder = (
        session.scalar(
            select(Holder).where(
                Holder.property_area_id == meeting.property_area_id, Holder.ref == holder_ref
            )
        )
        if isinstance(holder_ref, str)
        else None
    )
    if holder is None or not voter_buildings(session, meeting, holder.id):
        raise PaperRefused(404, f"no voter {holder_ref!r} in the meeting's owner roll", "voter")
    return holder


def _checked_choices(
    session: Session, meeting: Meeting, holder: Holder, choices: Mapping[Any, JSONValue]
) -> dict[str, JSONValue]:
    """{motion id (text): choice} checked against the agenda, the voter's scope and each
    motion's kind; refused with the first fault."""
    if not isinstance(choices, Mapping) or not choices:
        raise PaperRefused(400, "a paper ballot must have a choice on at least one motion", "empty")
    motions = {m.id: m for m in meeting.motions}
    eligible = {m.id for m in eligible_motions(session, meeting, holder.id)}
    checked: dict[str, JSONValue] = {}
    for key, value in choices.items():
        motion_id = _motion_id(key)
        motion = motions.get(motion_id) if motion_id is not None else None
        if motion is None:
            raise PaperRefused(
                400, f"motion {key!r} is not on this meeting's agenda", "unknown_motion"
            )
        if motion.id not in eligible:
            raise PaperRefused(
                403,
                f"the voter has no unit in the scope of motion {motion.position}",
                "scope",
                motion=motion,
            )
        try:
            choice = parse_choice(
                motion.kind, [o.label for o in motion.options], motion.seats, value
            )
        except BallotError as exc:
            raise PaperRefused(
                400, f"motion {motion.position}: {exc}", "choice", motion=motion
            ) from exc
        checked[str(motion.id)] = sorted(choice) if isinstance(choice, frozenset) else choice
    return checked


def _motion_id(key: object) -> int | None:
    if isinstance(key, bool):
        return None
    if isinstance(key, int):
        return key
    if isinstance(key, str) and key.isascii() and key.isdigit() and len(key) < 16:
        return int(key)
    return None


def _sheet(session: Session, area: PropertyArea, meeting: Meeting, holder: Holder) -> PaperSheet:
    """The voter's sheet, created if missing, row-locked for this transaction."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(
        insert(PaperSheet)
        .values(
            property_area_id=area.id,
            meeting_id=meeting.id,
            holder_id=holder.id,
            status=SheetStatus.pending,
            round=1,
            accepted_position=None,
            updated_at=dt.datetime.now(dt.UTC),
        )
        .on_conflict_do_nothing(index_elements=["meeting_id", "holder_id"])
    )
    sheet = _locked_sheet(session, meeting, holder)
    assert sheet is not None
    return sheet


def _locked_sheet(session: Session, meeting: Meeting, holder: Holder) -> PaperSheet | None:
    return session.scalar(
        select(PaperSheet)
        .where(PaperSheet.meeting_id == meeting.id, PaperSheet.holder_id == holder.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


def _image_elsewhere(session: Session, meeting: Meeting, holder: Holder, image: str) -> str | None:
    """The ref of another voter whose current entries carry this image hash, if any: one
    scanned sheet is one voter's ballot."""
    return session.scalar(
        select(Holder.ref)
        .select_from(PaperEntry)
        .join(
            PaperSheet,
            and_(PaperEntry.sheet_id == PaperSheet.id, PaperEntry.round == PaperSheet.round),
        )
        .join(Holder, PaperSheet.holder_id == Holder.id)
        .where(
            PaperEntry.meeting_id == meeting.id,
            PaperEntry.image_sha256 == image,
            PaperSheet.holder_id != holder.id,
            PaperSheet.status != SheetStatus.discarded,
        )
        .limit(1)
    )


@use_case
def enter_paper(
    session: Session,
    meeting: Meeting,
    holder_ref: str,
    choices: Mapping[Any, JSONValue],
    image_sha256: str,
    user_id: int,
    now: dt.datetime,
) -> Outcome:
    """Store one staff member's entry of a voter's paper ballot, and what it makes of the
    sheet: pending (first entry), matched or mismatch (second entry). Refused, storing
    nothing, with a `PaperRefused`."""
    try:
        image = parse_image_sha256(image_sha256)
    except PaperError as exc:
        raise PaperRefused(400, str(exc), exc.reason) from exc
    meeting, area = _open_meeting(session, meeting, now)
    _staff(session, user_id, area)
    holder = _voter(session, meeting, holder_ref)
    checked = _checked_choices(session, meeting, holder, choices)
    sheet = _sheet(session, area, meeting, holder)
    # A new sheet is "pending" with no entry yet; a discarded one starts its next round.
    current = _round_entries(session, sheet)
    try:
        position = check_entry(sheet.status, [e.entered_by_id for e in current], user_id)
    except PaperError as exc:
        raise PaperRefused(409, str(exc), exc.reason) from exc
    other = _image_elsewhere(session, meeting, holder, image)
    if other is not None:
        raise PaperRefused(
            409, f"this scanned image is already entered for voter {other}", "image_used"
        )
    text = canonical_bytes(checked).decode()
    entry = PaperEntry(
        property_area_id=area.id,
        meeting_id=meeting.id,
        sheet_id=sheet.id,
        round=sheet.round,
        position=position,
        holder_id=holder.id,
        choices=text,
        image_sha256=image,
        entered_by_id=user_id,
        entered_at=now,
    )
    comparison = None
    if position == 1:
        new_status = SheetStatus.pending
    else:
        comparison = _compare(current[0], entry)
        new_status = SheetStatus.matched if comparison.matches else SheetStatus.mismatch
    data = {
        "meeting": meeting.id,
        "voter": holder.ref,
        "round": sheet.round,
        "entry": position,
        "choices": checked,
        "image": image,
        "status": new_status.value,
        "by": user_id,
    }
    entry.log_seq = log.append(session, area, "paper.entry", data, at=now).seq
    session.add(entry)
    sheet.status = new_status
    sheet.accepted_position = 1 if new_status is SheetStatus.matched else None
    sheet.updated_at = now
    session.flush()
    return Outcome(sheet=sheet, entry=entry, status=new_status, comparison=comparison)


@use_case
def resolve_paper(
    session: Session,
    meeting: Meeting,
    holder_ref: str,
    decision: Decision | str,
    reason: str,
    user_id: int,
    now: dt.datetime,
) -> PaperSheet:
    """Settle a sheet whose entries differ: accept the first or the second entry, or discard
    both (then two fresh entries are needed). A sheet with a single entry may be discarded
    (entered under the wrong voter, say). Only by a committee admin who made neither entry,
    with a written reason; logged as "paper.resolve"."""
    try:
        chosen = Decision(decision)
    except ValueError:
        raise PaperRefused(
            400, "the decision must be 'first', 'second' or 'discard'", "decision"
        ) from None
    try:
        text = parse_reason(reason)
    except PaperError as exc:
        raise PaperRefused(400, str(exc), exc.reason) from exc
    meeting, area = _open_meeting(session, meeting, now)
    _staff(session, user_id, area)
    holder = _voter(session, meeting, holder_ref)
    sheet = _locked_sheet(session, meeting, holder)
    if sheet is None:
        raise PaperRefused(
            404, f"voter {holder.ref} has no paper ballot entered for this meeting", "no_sheet"
        )
    current = _round_entries(session, sheet)
    try:
        check_resolution(sheet.status, [e.entered_by_id for e in current], user_id, chosen)
    except PaperError as exc:
        status = 403 if exc.reason == "own_entry" else 409
        raise PaperRefused(status, str(exc), exc.reason) from exc
    accepted = None if chosen is Decision.discard else (1 if chosen is Decision.first else 2)
    data = {
        "meeting": meeting.id,
        "voter": holder.ref,
        "round": sheet.round,
        "decision": chosen.value,
        "image": None if accepted is None else current[accepted - 1].image_sha256,
        "reason_sha256": hashlib.sha256(text.encode()).hexdigest(),
        "by": user_id,
    }
    seq = log.append(session, area, "paper.resolve", data, at=now).seq
    session.add(
        PaperResolution(
            property_area_id=area.id,
            meeting_id=meeting.id,
            sheet_id=sheet.id,
            round=sheet.round,
            decision=chosen,
            accepted_position=accepted,
            reason=text,
            resolved_by_id=user_id,
            resolved_at=now,
            log_seq=seq,
        )
    )
    if accepted is None:
        sheet.status = SheetStatus.discarded
        sheet.round += 1  # the next two entries make a fresh round
    else:
        sheet.status = SheetStatus.resolved
    sheet.accepted_position = accepted
    sheet.updated_at = now
    session.flush()
    return sheet
