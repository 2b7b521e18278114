"""Meetings against a real database: rules of procedure, the lifecycle from draft to
published with its log entries, and every refusal leaving the database unchanged."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from ballotkit import CHOICE, CLOSES, ELECTION, OPENS, T0, YES_NO
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crypto.canonical import parse_canonical
from voting.demo import DEMO_PATH, demo_roll_csv, demo_roll_rows
from voting.domain.procedure import (
    DEFAULT_RULES,
    MeetingState,
    MotionSpec,
    ProcedureError,
    ResultDetail,
    RulesOfProcedure,
)
from voting.domain.tally import MotionKind
from voting.models import LogEntry, Meeting, Motion, MotionOption, PropertyArea, RollVersion
from voting.services import ServiceError
from voting.services.log import entries
from voting.services.meetings import (
    ProcedureRefused,
    add_motion,
    annul_meeting,
    close_meeting,
    create_meeting,
    get_rules,
    meeting_rules,
    motion_content_sha256,
    motion_spec,
    notices_for_community,
    open_meeting,
    post_notice,
    publish_meeting,
    remove_motion,
    set_rules,
    update_motion,
)
from voting.services.roll import import_roll
from voting.services.tenancy import AreaPath, ensure_property_area

SECOND = dt.timedelta(seconds=1)


@pytest.fixture
def area(app: Any, db: Session) -> PropertyArea:
    area = ensure_property_area(db, DEMO_PATH)
    key = app.config["VOTING_ID_HASH_KEY"]
    import_roll(
        db, area, "roll.csv", demo_roll_csv(demo_roll_rows()), key, expected_base_version=None
    )
    return area


def _kinds(db: Session, area: PropertyArea) -> list[str]:
    return [row.kind for row in entries(db, area)]


def _state(db: Session) -> tuple[Any, ...]:
    """Everything a refused use case must leave as it was."""
    db.expire_all()
    meetings = db.execute(select(Meeting).order_by(Meeting.id)).scalars().all()
    motions = db.execute(select(Motion).order_by(Motion.id)).scalars().all()
    return (
        db.scalar(select(func.count()).select_from(LogEntry)),
        [
            {c.key: getattr(m, c.key) for c in Meeting.__table__.columns}  # type: ignore[attr-defined]
            for m in meetings
        ],
        [(m.id, m.position, m.title, m.matter, m.seats, m.scope_json) for m in motions],
        db.execute(select(MotionOption.motion_id, MotionOption.position, MotionOption.label)).all(),
    )


def _refused(db: Session, message: str, call: Any, *args: Any, **kwargs: Any) -> None:
    before = _state(db)
    with pytest.raises(ProcedureRefused, match=message):
        call(db, *args, **kwargs)
    assert _state(db) == before


def _noticed(db: Session, area: PropertyArea) -> Meeting:
    meeting = create_meeting(db, area, "Annual meeting 2026", user_id=None, now=T0)
    add_motion(db, meeting, YES_NO, now=T0)
    return post_notice(db, meeting, OPENS, CLOSES, T0)


def test_meetings_rules_default_set_and_logged(db: Session, area: PropertyArea) -> None:
    assert get_rules(db, area) == DEFAULT_RULES
    rules = RulesOfProcedure(20, True, 3, True, ResultDetail.totals)
    set_rules(db, area, rules, now=T0)
    assert get_rules(db, area) == rules
    changed = RulesOfProcedure(16, False, 2, False, ResultDetail.per_unit)
    set_rules(db, area, changed, now=T0 + SECOND)
    assert get_rules(db, area) == changed
    logged = [parse_canonical(e.entry) for e in entries(db, area)][1:]
    assert [e["kind"] for e in logged] == ["rules.update", "rules.update"]
    assert logged[0]["data"]["rules"] == rules.to_dict()
    assert logged[1]["data"]["rules"] == changed.to_dict()


def test_meetings_rules_below_the_law_never_reach_the_database(
    db: Session, area: PropertyArea
) -> None:
    with pytest.raises(ProcedureError, match="at least 15 days"):
        set_rules(db, area, RulesOfProcedure(notice_days=10))
    _refused(db, "RulesOfProcedure", set_rules, area, {"notice_days": 15})


def test_meetings_full_lifecycle_with_log(db: Session, area: PropertyArea) -> None:
    set_rules(db, area, RulesOfProcedure(notice_days=15, allow_vote_change=True), now=T0)
    meeting = create_meeting(db, area, "Annual meeting 2026", user_id=None, now=T0)
    assert meeting.state is MeetingState.draft
    first = add_motion(db, meeting, YES_NO, now=T0)
    draft = MotionSpec(
        matter=7,
        kind=MotionKind.CHOICE,
        title="Lift renovation",
        text="Choose the contractor.",
        options=("Contractor C", "Contractor B", "Contractor A"),
    )
    second = add_motion(db, meeting, draft, now=T0)
    third = add_motion(db, meeting, ELECTION, now=T0)
    assert [first.position, second.position, third.position] == [1, 2, 3]
    update_motion(db, second, CHOICE, now=T0)
    remove_motion(db, first, now=T0)
    db.expire_all()
    motions = db.scalars(select(Motion).where(Motion.meeting_id == meeting.id)).all()
    assert sorted((m.position, m.title) for m in motions) == [
        (1, CHOICE.title),
        (2, ELECTION.title),
    ]
    assert motion_spec(db.get(Motion, third.id)) == ELECTION  # type: ignore[arg-type]
    assert motion_spec(db.get(Motion, second.id)) == CHOICE  # type: ignore[arg-type]

    post_notice(db, meeting, OPENS, CLOSES, T0)
    assert notices_for_community(db, area.community_id) == [meeting]
    open_meeting(db, meeting, OPENS)
    close_meeting(db, meeting, CLOSES)
    publish_meeting(db, meeting, CLOSES + dt.timedelta(days=1))
    db.expire_all()
    assert meeting.state is MeetingState.published
    assert meeting.publication_late is False
    assert meeting.notice_posted_at == T0
    assert (meeting.window_opens_at, meeting.window_closes_at) == (OPENS, CLOSES)
    assert (meeting.opened_at, meeting.closed_at) == (OPENS, CLOSES)
    assert _kinds(db, area) == [
        "roll.import",
        "rules.update",
        "meeting.create",
        "motion.add",
        "motion.add",
        "motion.add",
        "motion.update",
        "motion.remove",
        "meeting.notice",
        "meeting.open",
        "tally",  # one per motion, in the close's transaction
        "tally",
        "meeting.close",
        "meeting.publish",
    ]
    logged = {e["kind"]: e["data"] for e in (parse_canonical(r.entry) for r in entries(db, area))}
    assert logged["meeting.notice"]["motions"] == [
        {"position": 1, "content_sha256": motion_content_sha256(CHOICE)},
        {"position": 2, "content_sha256": motion_content_sha256(ELECTION)},
    ]
    assert logged["meeting.publish"] == {"meeting": meeting.id, "late": False, "by": None}
    # No titles, texts or candidates' names in the log.
    text = b"".join(row.entry for row in entries(db, area)).decode()
    for word in (ELECTION.title, ELECTION.text, "Candidate 1", "Contractor A"):
        assert word not in text


def test_meetings_snapshot_hash_is_the_roll_versions(
    app: Any, db: Session, area: PropertyArea
) -> None:
    meeting = _noticed(db, area)
    open_meeting(db, meeting, OPENS)
    # A later roll import does not change the meeting's snapshot.
    rows = demo_roll_rows()
    rows[0]["建筑面积"] = "99.99"
    key = app.config["VOTING_ID_HASH_KEY"]
    import_roll(db, area, "v2.csv", demo_roll_csv(rows), key, expected_base_version=1)
    db.expire_all()
    version = db.get(RollVersion, meeting.roll_version_id)
    assert version is not None and version.number == 1
    assert meeting.roll_sha256 == version.content_sha256
    logged = parse_canonical(entries(db, area)[-2].entry)
    assert logged["kind"] == "meeting.open"
    assert logged["data"]["roll_sha256"] == version.content_sha256


def test_meetings_rules_copied_at_notice_time(db: Session, area: PropertyArea) -> None:
    rules = RulesOfProcedure(notice_days=20, proxy_cap=4, result_detail=ResultDetail.totals)
    set_rules(db, area, rules, now=T0)
    meeting = create_meeting(db, area, "Meeting", now=T0)
    add_motion(db, meeting, YES_NO, now=T0)
    assert meeting_rules(meeting) is None
    _refused(db, "20-day notice period", post_notice, meeting, OPENS, CLOSES, T0)
    post_notice(db, meeting, T0 + dt.timedelta(days=20), CLOSES, T0)
    set_rules(db, area, DEFAULT_RULES, now=T0 + SECOND)
    db.expire_all()
    assert meeting_rules(meeting) == rules
    assert parse_canonical(entries(db, area)[-2].entry)["data"]["rules"] == rules.to_dict()


def test_meetings_notice_refusals(db: Session, area: PropertyArea) -> None:
    meeting = create_meeting(db, area, "Meeting", now=T0)
    _refused(db, "at least one motion", post_notice, meeting, OPENS, CLOSES, T0)
    add_motion(db, meeting, YES_NO, now=T0)
    _refused(db, "15-day notice period", post_notice, meeting, OPENS - SECOND, CLOSES, T0)
    _refused(db, "close after it opens", post_notice, meeting, OPENS, OPENS, T0)
    post_notice(db, meeting, OPENS, CLOSES, T0)
    _refused(db, "cannot post the notice of a meeting that is noticed", post_notice,
             meeting, OPENS, CLOSES, T0)  # fmt: skip


def test_meetings_motions_fixed_after_notice(db: Session, area: PropertyArea) -> None:
    meeting = _noticed(db, area)
    motion = meeting.motions[0]
    message = "once the notice is posted"
    _refused(db, message, add_motion, meeting, CHOICE)
    _refused(db, message, update_motion, motion, CHOICE)
    _refused(db, message, remove_motion, motion)


def test_meetings_motion_scope_must_be_in_the_roll(db: Session, area: PropertyArea) -> None:
    meeting = create_meeting(db, area, "Meeting", now=T0)
    unknown = MotionSpec(
        matter=5,
        kind=MotionKind.YES_NO,
        title="Repair",
        text="Use the fund.",
        scope=frozenset({"99号楼"}),
    )
    _refused(db, "not in the owner roll: 99号楼", add_motion, meeting, unknown)


def test_meetings_each_illegal_transition_refused(db: Session, area: PropertyArea) -> None:
    meeting = create_meeting(db, area, "Meeting", now=T0)
    later = CLOSES + dt.timedelta(days=1)
    _refused(db, "cannot open a meeting that is draft", open_meeting, meeting, OPENS)
    _refused(db, "cannot close a meeting that is draft", close_meeting, meeting, CLOSES)
    _refused(db, "that is draft", publish_meeting, meeting, later)
    _refused(db, "cannot annul a meeting that is draft", annul_meeting, meeting, "r", None, later)
    add_motion(db, meeting, YES_NO, now=T0)
    post_notice(db, meeting, OPENS, CLOSES, T0)
    _refused(db, "has not begun", open_meeting, meeting, OPENS - SECOND)
    _refused(db, "already ended", open_meeting, meeting, CLOSES)
    _refused(db, "cannot close a meeting that is noticed", close_meeting, meeting, CLOSES)
    _refused(db, "that is noticed", publish_meeting, meeting, later)
    _refused(db, "that is noticed", annul_meeting, meeting, "r", None, later)
    open_meeting(db, meeting, OPENS)
    _refused(db, "cannot open a meeting that is open", open_meeting, meeting, OPENS)
    _refused(db, "early close is not allowed", close_meeting, meeting, CLOSES - SECOND)
    _refused(db, "that is open", publish_meeting, meeting, later)
    _refused(db, "that is open", annul_meeting, meeting, "r", None, later)
    close_meeting(db, meeting, CLOSES)
    _refused(db, "that is closed", close_meeting, meeting, later)
    _refused(db, "before the meeting closed", publish_meeting, meeting, CLOSES - SECOND)
    _refused(db, "written reason", annul_meeting, meeting, "  ", None, later)
    publish_meeting(db, meeting, later)
    _refused(db, "that is published", publish_meeting, meeting, later)
    annul_meeting(db, meeting, "The notice was never reported.", None, later + SECOND)
    _refused(db, "that is annulled", annul_meeting, meeting, "again", None, later)
    db.expire_all()
    assert meeting.state is MeetingState.annulled
    assert meeting.annulment_reason == "The notice was never reported."
    assert _kinds(db, area)[-2:] == ["meeting.publish", "meeting.annul"]


def test_meetings_open_refused_without_a_roll(db: Session) -> None:
    path = AreaPath(
        DEMO_PATH.district, DEMO_PATH.street, DEMO_PATH.community, ("EMPTY", "Empty area")
    )
    area = ensure_property_area(db, path)
    meeting = _noticed(db, area)
    _refused(db, "has no owner roll", open_meeting, meeting, OPENS)


def test_meetings_closed_meeting_can_be_annulled(db: Session, area: PropertyArea) -> None:
    meeting = _noticed(db, area)
    open_meeting(db, meeting, OPENS)
    close_meeting(db, meeting, CLOSES)
    annul_meeting(db, meeting, "Unlawful notice.", None, CLOSES + SECOND)
    data = parse_canonical(entries(db, area)[-1].entry)["data"]
    assert data["from"] == "closed"
    assert "Unlawful" not in str(data)


def test_meetings_late_publication_flagged(db: Session, area: PropertyArea) -> None:
    meeting = _noticed(db, area)
    open_meeting(db, meeting, OPENS)
    close_meeting(db, meeting, CLOSES)
    # CLOSES is 2026-12-23 10:00 Beijing: the deadline is 2026-12-27 00:00 Beijing.
    deadline = dt.datetime(2026, 12, 26, 16, 0, tzinfo=dt.UTC)
    publish_meeting(db, meeting, deadline)
    db.expire_all()
    assert meeting.publication_late is True
    assert parse_canonical(entries(db, area)[-1].entry)["data"]["late"] is True


def test_meetings_notices_for_community_hides_drafts(db: Session, area: PropertyArea) -> None:
    create_meeting(db, area, "Draft", now=T0)
    assert notices_for_community(db, area.community_id) == []
    noticed = _noticed(db, area)
    assert notices_for_community(db, area.community_id) == [noticed]
    assert notices_for_community(db, area.community_id + 1000) == []


def test_meetings_refusals_are_service_errors() -> None:
    assert issubclass(ProcedureRefused, ServiceError)


def test_meetings_database_enforces_matter_state_and_positions(
    db: Session, area: PropertyArea
) -> None:
    meeting = create_meeting(db, area, "Meeting", now=T0)
    add_motion(db, meeting, YES_NO, now=T0)
    bad_rows: list[Any] = [
        Motion(meeting_id=meeting.id, position=2, matter=10, kind=MotionKind.YES_NO,
               title="t", text="t", seats=0),
        Motion(meeting_id=meeting.id, position=1, matter=4, kind=MotionKind.YES_NO,
               title="t", text="t", seats=0),
    ]  # fmt: skip
    for row in bad_rows:
        db.add(row)
        with pytest.raises(IntegrityError):
            db.flush()
        db.rollback()
    with pytest.raises(IntegrityError):
        db.execute(text("UPDATE meetings SET state = 'bogus'"))
    db.rollback()
    with pytest.raises(IntegrityError):
        db.execute(text("UPDATE meetings SET state = 'open'"))  # no notice, no snapshot
    db.rollback()
