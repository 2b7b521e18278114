"""Rules of procedure and the meeting lifecycle: draft → noticed → open → closed →
published, plus annulled (see docs/PROCEDURE.md).

Each public function that changes something is one use case: it checks the procedure with
the pure rules of `voting.domain.procedure`, changes the rows and appends one log entry in
the same transaction, or refuses with a `ProcedureRefused` and changes nothing. The meeting
row is locked first (SELECT … FOR UPDATE on PostgreSQL; SQLite has one writer), so two
concurrent transitions of one meeting cannot both succeed. Times are passed in (`now`), so
the caller's clock is the one on record. Log entries carry ids, numbers, times and content
hashes, never personal names.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crypto.canonical import canonical_bytes
from crypto.statements import format_time
from voting.domain.procedure import (
    DEFAULT_RULES,
    MeetingState,
    MotionSpec,
    ProcedureError,
    RulesOfProcedure,
    check_annul,
    check_close,
    check_motion_edit,
    check_notice,
    check_open,
    check_publish,
    check_scope,
    publication_is_late,
)
from voting.models import (
    Building,
    Meeting,
    Motion,
    MotionOption,
    PropertyArea,
    RollEntry,
    RollVersion,
    Rules,
    Unit,
    utcnow,
)
from voting.services import NotFound, ServiceError, log, reload_locked, use_case
from voting.services.roll import current_version

if TYPE_CHECKING:
    from voting.services.logtree import LogSigner

__all__ = [
    "ProcedureRefused",
    "add_motion",
    "annul_meeting",
    "close_meeting",
    "create_meeting",
    "get_meeting",
    "get_rules",
    "meeting_rules",
    "meetings_of_area",
    "motion_content_sha256",
    "motion_spec",
    "notices_for_community",
    "open_meeting",
    "post_notice",
    "publish_meeting",
    "remove_motion",
    "roll_buildings",
    "set_rules",
    "update_motion",
]


class ProcedureRefused(ServiceError):
    """The procedure does not allow this; nothing was changed."""


@contextmanager
def _refusing(prefix: str = "") -> Iterator[None]:
    """Turn a refusal of the pure rules into the service's refusal."""
    try:
        yield
    except ProcedureError as exc:
        raise ProcedureRefused(prefix + str(exc)) from None


def _time(moment: dt.datetime) -> str:
    return format_time(moment)


def _aware(name: str, moment: dt.datetime) -> None:
    if not isinstance(moment, dt.datetime) or moment.utcoffset() is None:
        raise ProcedureRefused(f"{name} must be a timezone-aware datetime")


# --- rules of procedure ---------------------------------------------------------------


def get_rules(session: Session, area: PropertyArea) -> RulesOfProcedure:
    """The area's rules of procedure now (the defaults if never set)."""
    row = session.get(Rules, area.id)
    if row is None:
        return DEFAULT_RULES
    return RulesOfProcedure(
        notice_days=row.notice_days,
        allow_vote_change=row.allow_vote_change,
        proxy_cap=row.proxy_cap,
        parking_counts=row.parking_counts,
        result_detail=row.result_detail,
    )


@use_case
def set_rules(
    session: Session,
    area: PropertyArea,
    rules: RulesOfProcedure,
    *,
    user_id: int | None = None,
    now: dt.datetime | None = None,
) -> Rules:
    """Replace the area's rules of procedure; the log entry carries the full new rules."""
    when = now or utcnow()
    _aware("now", when)
    if not isinstance(rules, RulesOfProcedure):
        raise ProcedureRefused("rules must be a RulesOfProcedure")
    row = session.get(Rules, area.id, with_for_update=True)
    if row is None:
        row = Rules(property_area_id=area.id)
        session.add(row)
    row.notice_days = rules.notice_days
    row.allow_vote_change = rules.allow_vote_change
    row.proxy_cap = rules.proxy_cap
    row.parking_counts = rules.parking_counts
    row.result_detail = rules.result_detail
    row.updated_at = when
    row.updated_by_id = user_id
    session.flush()
    log.append(session, area, "rules.update", {"rules": rules.to_dict(), "by": user_id}, at=when)
    return row


def meeting_rules(meeting: Meeting) -> RulesOfProcedure | None:
    """The rules copied into the meeting when its notice was posted (None for a draft)."""
    if meeting.rules_notice_days is None:
        return None
    assert meeting.rules_allow_vote_change is not None
    assert meeting.rules_proxy_cap is not None
    assert meeting.rules_parking_counts is not None
    assert meeting.rules_result_detail is not None
    return RulesOfProcedure(
        notice_days=meeting.rules_notice_days,
        allow_vote_change=meeting.rules_allow_vote_change,
        proxy_cap=meeting.rules_proxy_cap,
        parking_counts=meeting.rules_parking_counts,
        result_detail=meeting.rules_result_detail,
    )


# --- meetings and motions -------------------------------------------------------------


def get_meeting(session: Session, area: PropertyArea, meeting_id: int) -> Meeting:
    meeting = session.get(Meeting, meeting_id)
    if meeting is None or meeting.property_area_id != area.id:
        raise NotFound(f"area {area.code} has no meeting {meeting_id}")
    return meeting


def _lock(session: Session, meeting: Meeting) -> Meeting:
    """Reload the meeting with a row lock, so its state is current for this transaction."""
    return reload_locked(session, Meeting, meeting.id, f"meeting {meeting.id} does not exist")


def _lock_with_area(session: Session, meeting: Meeting) -> tuple[Meeting, PropertyArea]:
    locked = _lock(session, meeting)
    return locked, _area(session, locked)


def _area(session: Session, meeting: Meeting) -> PropertyArea:
    area = session.get(PropertyArea, meeting.property_area_id)
    assert area is not None
    return area


@use_case
def create_meeting(
    session: Session,
    area: PropertyArea,
    title: str,
    *,
    user_id: int | None = None,
    now: dt.datetime | None = None,
) -> Meeting:
    """A new draft meeting of the area."""
    when = now or utcnow()
    _aware("now", when)
    if not isinstance(title, str) or not title.strip():
        raise ProcedureRefused("a meeting needs a title")
    if len(title) > 200:
        raise ProcedureRefused("the meeting title is longer than 200 characters")
    meeting = Meeting(
        property_area_id=area.id,
        title=title.strip(),
        state=MeetingState.draft,
        created_at=when,
        created_by_id=user_id,
    )
    session.add(meeting)
    session.flush()
    log.append(session, area, "meeting.create", {"meeting": meeting.id, "by": user_id}, at=when)
    return meeting


def motion_spec(motion: Motion) -> MotionSpec:
    """A stored motion as the pure rules see it."""
    return MotionSpec(
        matter=motion.matter,
        kind=motion.kind,
        title=motion.title,
        text=motion.text,
        options=tuple(option.label for option in motion.options),
        seats=motion.seats,
        scope=motion.scope,
    )


def motion_content_sha256(spec: MotionSpec) -> str:
    """SHA-256 of the motion's canonical JSON: binds title, text and options in the log."""
    return hashlib.sha256(canonical_bytes(spec.to_dict())).hexdigest()


def _roll_buildings(session: Session, version: RollVersion | None) -> set[str]:
    if version is None:
        return set()
    query = (
        select(Building.name)
        .join(Unit, Unit.building_id == Building.id)
        .join(RollEntry, RollEntry.unit_id == Unit.id)
        .where(RollEntry.roll_version_id == version.id)
        .distinct()
    )
    return set(session.scalars(query))


def _check_spec(session: Session, area: PropertyArea, spec: MotionSpec) -> None:
    if not isinstance(spec, MotionSpec):
        raise ProcedureRefused("a motion must be given as a MotionSpec")
    if spec.scope is not None:
        with _refusing():
            check_scope(spec, _roll_buildings(session, current_version(session, area)))


def _write_spec(motion: Motion, spec: MotionSpec) -> None:
    motion.matter = spec.matter
    motion.kind = spec.kind
    motion.title = spec.title
    motion.text = spec.text
    motion.seats = spec.seats
    motion.scope_json = (
        json.dumps(sorted(spec.scope), ensure_ascii=False) if spec.scope is not None else None
    )


def _motion_data(meeting: Meeting, motion: Motion, spec: MotionSpec) -> dict[str, Any]:
    return {
        "meeting": meeting.id,
        "motion": motion.id,
        "position": motion.position,
        "matter": spec.matter,
        "kind": spec.kind.value,
        "rule": spec.rule.value,
        "options": len(spec.options),
        "seats": spec.seats,
        "scope": sorted(spec.scope) if spec.scope is not None else None,
        "content_sha256": motion_content_sha256(spec),
    }


def _editable(session: Session, meeting: Meeting) -> Meeting:
    locked = _lock(session, meeting)
    with _refusing():
        check_motion_edit(locked.state)
    return locked


def _motion_of(session: Session, motion: Motion) -> tuple[Meeting, Motion]:
    meeting = session.get(Meeting, motion.meeting_id)
    if meeting is None:
        raise NotFound(f"motion {motion.id} has no meeting")
    locked = _editable(session, meeting)
    current = session.get(Motion, motion.id, populate_existing=True)
    if current is None:
        raise NotFound(f"motion {motion.id} does not exist")
    return locked, current


def _store_motion(
    session: Session,
    meeting: Meeting,
    motion: Motion,
    spec: MotionSpec,
    kind: str,
    user_id: int | None,
    when: dt.datetime,
) -> Motion:
    """Write `spec` into `motion` (new or existing), replace its options, log `kind`."""
    area = _area(session, meeting)
    _check_spec(session, area, spec)
    _write_spec(motion, spec)
    session.add(motion)
    if motion.options:
        motion.options.clear()
        session.flush()  # delete the old options before their positions are reused
    motion.options.extend(
        MotionOption(position=index, label=label)
        for index, label in enumerate(spec.options, start=1)
    )
    session.flush()
    data = _motion_data(meeting, motion, spec) | {"by": user_id}
    log.append(session, area, kind, data, at=when)
    return motion


@use_case
def add_motion(
    session: Session,
    meeting: Meeting,
    spec: MotionSpec,
    *,
    user_id: int | None = None,
    now: dt.datetime | None = None,
) -> Motion:
    """Add a motion at the end of a draft meeting's agenda."""
    when = now or utcnow()
    _aware("now", when)
    meeting = _editable(session, meeting)
    last = session.scalar(select(func.max(Motion.position)).where(Motion.meeting_id == meeting.id))
    motion = Motion(meeting_id=meeting.id, position=(last or 0) + 1)
    return _store_motion(session, meeting, motion, spec, "motion.add", user_id, when)


@use_case
def update_motion(
    session: Session,
    motion: Motion,
    spec: MotionSpec,
    *,
    user_id: int | None = None,
    now: dt.datetime | None = None,
) -> Motion:
    """Replace a motion of a draft meeting (its position stays)."""
    when = now or utcnow()
    _aware("now", when)
    meeting, motion = _motion_of(session, motion)
    return _store_motion(session, meeting, motion, spec, "motion.update", user_id, when)


@use_case
def remove_motion(
    session: Session,
    motion: Motion,
    *,
    user_id: int | None = None,
    now: dt.datetime | None = None,
) -> None:
    """Remove a motion of a draft meeting; the motions after it move up one position."""
    when = now or utcnow()
    _aware("now", when)
    meeting, motion = _motion_of(session, motion)
    area = _area(session, meeting)
    motion_id, position = motion.id, motion.position
    session.delete(motion)
    session.flush()
    later = session.scalars(
        select(Motion)
        .where(Motion.meeting_id == meeting.id, Motion.position > position)
        .order_by(Motion.position)
    )
    for following in list(later):
        following.position -= 1
        session.flush()  # one at a time: (meeting, position) stays unique throughout
    data = {"meeting": meeting.id, "motion": motion_id, "position": position, "by": user_id}
    log.append(session, area, "motion.remove", data, at=when)


# --- the lifecycle --------------------------------------------------------------------


@use_case
def post_notice(
    session: Session,
    meeting: Meeting,
    window_opens_at: dt.datetime,
    window_closes_at: dt.datetime,
    now: dt.datetime,
    *,
    user_id: int | None = None,
) -> Meeting:
    """Post the notice: fixes the motions and the voting window and copies the rules.

    The residents' committee sees it from then on (`notices_for_community`).
    """
    meeting, area = _lock_with_area(session, meeting)
    rules = get_rules(session, area)
    motions = list(
        session.scalars(
            select(Motion).where(Motion.meeting_id == meeting.id).order_by(Motion.position)
        )
    )
    with _refusing():
        check_notice(meeting.state, len(motions), rules, now, window_opens_at, window_closes_at)
    meeting.state = MeetingState.noticed
    meeting.notice_posted_at = now
    meeting.window_opens_at = window_opens_at
    meeting.window_closes_at = window_closes_at
    meeting.rules_notice_days = rules.notice_days
    meeting.rules_allow_vote_change = rules.allow_vote_change
    meeting.rules_proxy_cap = rules.proxy_cap
    meeting.rules_parking_counts = rules.parking_counts
    meeting.rules_result_detail = rules.result_detail
    session.flush()
    data = {
        "meeting": meeting.id,
        "window_opens_at": _time(window_opens_at),
        "window_closes_at": _time(window_closes_at),
        "rules": rules.to_dict(),
        "motions": [
            {"position": m.position, "content_sha256": motion_content_sha256(motion_spec(m))}
            for m in motions
        ],
        "by": user_id,
    }
    log.append(session, area, "meeting.notice", data, at=now)
    return meeting


@use_case
def open_meeting(
    session: Session, meeting: Meeting, now: dt.datetime, *, user_id: int | None = None
) -> Meeting:
    """Open voting: snapshot the area's current roll version and record its hash."""
    meeting, area = _lock_with_area(session, meeting)
    with _refusing():
        check_open(
            meeting.state,
            meeting.window_opens_at or now,
            meeting.window_closes_at or now,
            now,
        )
    version = current_version(session, area)
    if version is None:
        raise ProcedureRefused(f"area {area.code} has no owner roll: import one before opening")
    buildings = _roll_buildings(session, version)
    for motion in meeting.motions:
        with _refusing(f"motion {motion.position}: "):
            check_scope(motion_spec(motion), buildings)
    meeting.state = MeetingState.open
    meeting.opened_at = now
    meeting.roll_version_id = version.id
    meeting.roll_sha256 = version.content_sha256
    session.flush()
    data = {
        "meeting": meeting.id,
        "roll_version": version.number,
        "roll_sha256": version.content_sha256,
        "by": user_id,
    }
    log.append(session, area, "meeting.open", data, at=now)
    return meeting


@use_case
def close_meeting(
    session: Session,
    meeting: Meeting,
    now: dt.datetime,
    *,
    user_id: int | None = None,
    signer: LogSigner | None = None,
) -> Meeting:
    """Lock the ballot box; refused before the window's end (no early close). With a
    `signer`, the log's checkpoint is signed in the same transaction, covering the tally and
    the close (DESIGN: a checkpoint at every close)."""
    meeting, area = _lock_with_area(session, meeting)
    with _refusing():
        check_close(meeting.state, meeting.window_closes_at or now, now)
    meeting.state = MeetingState.closed
    meeting.closed_at = now
    session.flush()
    # The tally of every motion, stored and logged in this same transaction (imported here:
    # voting.services.results itself uses this module).
    from voting.services.results import record_results

    record_results(session, meeting, area, now)
    log.append(session, area, "meeting.close", {"meeting": meeting.id, "by": user_id}, at=now)
    if signer is not None:
        from voting.services.logtree import checkpoint_at_close

        checkpoint_at_close(session, area, signer, now)
    return meeting


@use_case
def publish_meeting(
    session: Session, meeting: Meeting, now: dt.datetime, *, user_id: int | None = None
) -> Meeting:
    """Post the result; records (and logs) whether the 3-day deadline was missed."""
    meeting, area = _lock_with_area(session, meeting)
    with _refusing():
        check_publish(meeting.state, meeting.closed_at, now)
    assert meeting.closed_at is not None
    late = publication_is_late(meeting.closed_at, now)
    meeting.state = MeetingState.published
    meeting.published_at = now
    meeting.publication_late = late
    session.flush()
    data = {"meeting": meeting.id, "late": late, "by": user_id}
    log.append(session, area, "meeting.publish", data, at=now)
    return meeting


@use_case
def annul_meeting(
    session: Session, meeting: Meeting, reason: str, user_id: int | None, now: dt.datetime
) -> Meeting:
    """Annul a closed or published decision (street office) with a written reason."""
    meeting, area = _lock_with_area(session, meeting)
    with _refusing():
        check_annul(meeting.state, reason)
    _aware("now", now)
    previous = meeting.state
    meeting.state = MeetingState.annulled
    meeting.annulled_at = now
    meeting.annulment_reason = reason.strip()
    meeting.annulled_by_id = user_id
    session.flush()
    data = {
        "meeting": meeting.id,
        "from": previous.value,
        "reason_sha256": hashlib.sha256(reason.strip().encode()).hexdigest(),
        "by": user_id,
    }
    log.append(session, area, "meeting.annul", data, at=now)
    return meeting


# --- queries --------------------------------------------------------------------------


def notices_for_community(session: Session, community_id: int) -> list[Meeting]:
    """Meetings of the community's areas whose notice is posted, newest notice first."""
    query = (
        select(Meeting)
        .join(PropertyArea, Meeting.property_area_id == PropertyArea.id)
        .where(
            PropertyArea.community_id == community_id,
            Meeting.state != MeetingState.draft,
            Meeting.notice_posted_at.is_not(None),
        )
        .order_by(Meeting.notice_posted_at.desc(), Meeting.id.desc())
    )
    return list(session.scalars(query))


def meetings_of_area(session: Session, area: PropertyArea) -> list[Meeting]:
    """The area's meetings, newest first: the staff list of meetings."""
    query = (
        select(Meeting)
        .where(Meeting.property_area_id == area.id)
        .order_by(Meeting.created_at.desc(), Meeting.id.desc())
    )
    return list(session.scalars(query))


def roll_buildings(session: Session, area: PropertyArea) -> set[str]:
    """The building names of the area's current roll: what a motion's scope may name."""
    return _roll_buildings(session, current_version(session, area))
