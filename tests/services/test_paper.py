"""Paper ballots: double entry by two staff members, mismatch, resolution, discard, and an
electronic ballot of the same voter superseding the paper one."""

from __future__ import annotations

import json
from typing import Any

import pytest
from ballotkit import VOTING, VotingSetup, cast, open_meeting_setup
from paperkit import HASH_A, HASH_B, LI, WANG, staff
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from voting.domain.paper import SheetStatus
from voting.models import Holder, LogEntry, PaperEntry, PaperResolution, User
from voting.services.ballots import counted_ballots
from voting.services.paper import (
    PaperRefused,
    counted_paper,
    enter_paper,
    find_voter,
    resolve_paper,
    sheets_of_meeting,
    superseded_paper,
)


@pytest.fixture
def setup(db: Session) -> VotingSetup:
    return open_meeting_setup(db)


@pytest.fixture
def admins(db: Session, setup: VotingSetup) -> list[User]:
    return staff(db, setup.area, 3)


def _voter(db: Session, setup: VotingSetup, house: str = WANG) -> Holder:
    holder = find_voter(db, setup.meeting, house)
    assert holder is not None
    return holder


def _choices(setup: VotingSetup, yes_no: str = "yes") -> dict[int, Any]:
    return {
        setup.yes_no.id: yes_no,
        setup.choice.id: "Contractor B",
        setup.election.id: ["Candidate 1", "Candidate 3"],
    }


def _enter(
    db: Session,
    setup: VotingSetup,
    user: User,
    *,
    house: str = WANG,
    choices: dict[int, Any] | None = None,
    image: str = HASH_A,
) -> Any:
    holder = _voter(db, setup, house)
    return enter_paper(
        db,
        setup.meeting,
        holder.ref,
        _choices(setup) if choices is None else choices,
        image,
        user.id,
        VOTING,
    )


def _log(db: Session, kind: str) -> list[dict[str, Any]]:
    rows = db.scalars(select(LogEntry.entry).where(LogEntry.kind == kind).order_by(LogEntry.seq))
    return [json.loads(row)["data"] for row in rows]


def test_paper_double_entry_matches_and_counts(
    db: Session, setup: VotingSetup, admins: list[User]
) -> None:
    first = _enter(db, setup, admins[0])
    assert first.status is SheetStatus.pending and first.comparison is None
    assert counted_paper(db, setup.yes_no) == []  # one entry counts for nothing
    second = _enter(db, setup, admins[1])
    assert second.status is SheetStatus.matched and second.comparison.matches
    ref = _voter(db, setup).ref
    assert counted_paper(db, setup.yes_no) == [(ref, "yes")]
    assert counted_paper(db, setup.choice) == [(ref, "Contractor B")]
    assert counted_paper(db, setup.election) == [(ref, frozenset({"Candidate 1", "Candidate 3"}))]
    logged = _log(db, "paper.entry")
    assert [(d["entry"], d["status"], d["by"]) for d in logged] == [
        (1, "pending", admins[0].id),
        (2, "matched", admins[1].id),
    ]
    assert logged[0]["voter"] == ref and logged[0]["image"] == HASH_A
    assert logged[0]["choices"][str(setup.election.id)] == ["Candidate 1", "Candidate 3"]
    entries = db.scalars(select(LogEntry.entry).where(LogEntry.kind == "paper.entry")).all()
    assert not any("王伟".encode() in entry for entry in entries)  # refs, never names
    (view,) = sheets_of_meeting(db, setup.meeting)
    assert view.sheet.status is SheetStatus.matched and view.accepted is not None


def test_paper_missing_motion_is_not_voted(
    db: Session, setup: VotingSetup, admins: list[User]
) -> None:
    only = {setup.yes_no.id: "abstain"}
    _enter(db, setup, admins[0], choices=only)
    assert _enter(db, setup, admins[1], choices=only).status is SheetStatus.matched
    ref = _voter(db, setup).ref
    assert counted_paper(db, setup.yes_no) == [(ref, "abstain")]
    assert counted_paper(db, setup.choice) == [] and counted_paper(db, setup.election) == []


def test_paper_mismatch_is_flagged_and_counts_nothing(
    db: Session, setup: VotingSetup, admins: list[User]
) -> None:
    _enter(db, setup, admins[0])
    outcome = _enter(db, setup, admins[1], choices=_choices(setup, "no"), image=HASH_B)
    assert outcome.status is SheetStatus.mismatch
    assert outcome.comparison.motions == (setup.yes_no.id,) and outcome.comparison.image
    for motion in (setup.yes_no, setup.choice, setup.election):
        assert counted_paper(db, motion) == []
    # Nothing else is entered until it is resolved.
    with pytest.raises(PaperRefused) as refused:
        _enter(db, setup, admins[2])
    assert refused.value.status == 409 and refused.value.reason == "unresolved"
    (view,) = sheets_of_meeting(db, setup.meeting)
    assert view.comparison is not None and view.comparison.motions == (setup.yes_no.id,)


def test_paper_missing_choice_differs(db: Session, setup: VotingSetup, admins: list[User]) -> None:
    _enter(db, setup, admins[0])
    partial = {setup.yes_no.id: "yes", setup.choice.id: "Contractor B"}
    outcome = _enter(db, setup, admins[1], choices=partial)
    assert outcome.status is SheetStatus.mismatch
    assert outcome.comparison.motions == (setup.election.id,) and not outcome.comparison.image


def test_paper_same_user_twice_is_refused(
    db: Session, setup: VotingSetup, admins: list[User]
) -> None:
    _enter(db, setup, admins[0])
    size = db.scalar(select(func.count()).select_from(LogEntry))
    with pytest.raises(PaperRefused, match="another staff member") as refused:
        _enter(db, setup, admins[0])
    assert refused.value.status == 409 and refused.value.reason == "same_user"
    assert db.scalar(select(func.count()).select_from(PaperEntry)) == 1
    assert db.scalar(select(func.count()).select_from(LogEntry)) == size


def test_paper_third_entry_after_match_is_refused(
    db: Session, setup: VotingSetup, admins: list[User]
) -> None:
    _enter(db, setup, admins[0])
    _enter(db, setup, admins[1])
    with pytest.raises(PaperRefused) as refused:
        _enter(db, setup, admins[2])
    assert refused.value.status == 409 and refused.value.reason == "complete"


def test_paper_resolve_by_a_third_admin(
    db: Session, setup: VotingSetup, admins: list[User]
) -> None:
    _enter(db, setup, admins[0])
    _enter(db, setup, admins[1], choices=_choices(setup, "no"), image=HASH_B)
    ref = _voter(db, setup).ref
    for own in admins[:2]:
        with pytest.raises(PaperRefused) as refused:
            resolve_paper(db, setup.meeting, ref, "first", "checked the sheet", own.id, VOTING)
        assert refused.value.status == 403 and refused.value.reason == "own_entry"
    with pytest.raises(PaperRefused) as refused:
        resolve_paper(db, setup.meeting, ref, "second", "   ", admins[2].id, VOTING)
    assert refused.value.reason == "reason"
    sheet = resolve_paper(
        db, setup.meeting, ref, "second", "the sheet says 反对", admins[2].id, VOTING
    )
    assert sheet.status is SheetStatus.resolved and sheet.accepted_position == 2
    assert counted_paper(db, setup.yes_no) == [(ref, "no")]
    (logged,) = _log(db, "paper.resolve")
    assert logged["decision"] == "second" and logged["by"] == admins[2].id
    assert logged["image"] == HASH_B and len(logged["reason_sha256"]) == 64
    resolution = db.scalar(select(PaperResolution))
    assert resolution is not None and resolution.reason == "the sheet says 反对"
    with pytest.raises(PaperRefused) as refused:
        resolve_paper(db, setup.meeting, ref, "first", "again", admins[2].id, VOTING)
    assert refused.value.reason == "state"


def test_paper_discard_needs_two_fresh_entries(
    db: Session, setup: VotingSetup, admins: list[User]
) -> None:
    _enter(db, setup, admins[0])
    _enter(db, setup, admins[1], choices=_choices(setup, "no"))
    ref = _voter(db, setup).ref
    sheet = resolve_paper(
        db, setup.meeting, ref, "discard", "both misread the sheet", admins[2].id, VOTING
    )
    assert sheet.status is SheetStatus.discarded and sheet.round == 2
    assert counted_paper(db, setup.yes_no) == []
    again = _enter(db, setup, admins[1], choices=_choices(setup, "no"))
    assert again.status is SheetStatus.pending and again.entry.round == 2
    assert counted_paper(db, setup.yes_no) == []
    done = _enter(db, setup, admins[0], choices=_choices(setup, "no"))
    assert done.status is SheetStatus.matched
    assert counted_paper(db, setup.yes_no) == [(ref, "no")]
    assert db.scalar(select(func.count()).select_from(PaperEntry)) == 4  # all kept
    (view,) = sheets_of_meeting(db, setup.meeting)
    assert view.earlier_entries == 2 and len(view.resolutions) == 1


def test_paper_pending_entry_under_the_wrong_voter_can_be_discarded(
    db: Session, setup: VotingSetup, admins: list[User]
) -> None:
    _enter(db, setup, admins[0], house=LI)  # the sheet is really 王伟's
    with pytest.raises(PaperRefused) as refused:
        _enter(db, setup, admins[1])
    assert refused.value.reason == "image_used" and _voter(db, setup, LI).ref in str(refused.value)
    li = _voter(db, setup, LI).ref
    with pytest.raises(PaperRefused) as refused:
        resolve_paper(db, setup.meeting, li, "first", "x", admins[2].id, VOTING)
    assert refused.value.reason == "nothing_to_choose"
    resolve_paper(
        db, setup.meeting, li, "discard", "entered under the wrong house", admins[2].id, VOTING
    )
    _enter(db, setup, admins[1])
    assert _enter(db, setup, admins[0]).status is SheetStatus.matched


def test_paper_electronic_ballot_supersedes_paper(
    db: Session, setup: VotingSetup, admins: list[User]
) -> None:
    issued = setup.cards[0]
    holder = db.scalar(select(Holder).where(Holder.ref == issued.holder_ref))
    assert holder is not None
    choices = {setup.yes_no.id: "no", setup.election.id: ["Candidate 2"]}
    for user in admins[:2]:
        enter_paper(db, setup.meeting, holder.ref, choices, HASH_A, user.id, VOTING)
    assert counted_paper(db, setup.yes_no) == [(holder.ref, "no")]
    receipt = cast(db, setup, issued, setup.yes_no, "yes")
    assert counted_paper(db, setup.yes_no) == []  # the electronic ballot counts instead
    assert counted_ballots(db, setup.yes_no) == [(holder.ref, "yes")]
    assert counted_paper(db, setup.election) == [(holder.ref, frozenset({"Candidate 2"}))]
    (superseded,) = superseded_paper(db, setup.meeting)
    assert (superseded.holder_ref, superseded.motion_id, superseded.choice) == (
        holder.ref,
        setup.yes_no.id,
        "no",
    )
    assert superseded.ballot_hash == receipt.ballot_hash
    (view,) = sheets_of_meeting(db, setup.meeting)
    assert view.superseded == (setup.yes_no.id,)


def test_paper_entered_after_electronic_ballot_is_superseded(
    db: Session, setup: VotingSetup, admins: list[User]
) -> None:
    issued = setup.cards[0]
    cast(db, setup, issued, setup.yes_no, "yes")
    for user in admins[:2]:
        enter_paper(
            db, setup.meeting, issued.holder_ref, {setup.yes_no.id: "no"}, HASH_A, user.id, VOTING
        )
    assert counted_paper(db, setup.yes_no) == []
    assert [s.holder_ref for s in superseded_paper(db, setup.meeting)] == [issued.holder_ref]


def test_paper_find_voter_by_house_or_ref(db: Session, setup: VotingSetup) -> None:
    wang = _voter(db, setup, WANG)
    assert find_voter(db, setup.meeting, "1号楼1-102") == wang
    assert find_voter(db, setup.meeting, " 地下车库 B1-001 ") == wang
    assert find_voter(db, setup.meeting, wang.ref.lower()) == wang
    assert find_voter(db, setup.meeting, "1号楼 9-999") is None
    assert find_voter(db, setup.meeting, "") is None
    assert find_voter(db, setup.meeting, "1号楼") is None
