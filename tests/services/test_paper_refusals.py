"""Paper ballots: every refused entry or resolution says why and stores nothing."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from ballotkit import CLOSES, OPENS, VOTING, VotingSetup, open_meeting_setup
from paperkit import COMPANY, HASH_A, WANG, staff
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from voting.demo import OTHER_PATH
from voting.models import LogEntry, PaperEntry, PaperSheet, Role, User
from voting.services.meetings import close_meeting
from voting.services.paper import PaperRefused, enter_paper, find_voter, resolve_paper
from voting.services.tenancy import ensure_property_area


@pytest.fixture
def setup(db: Session) -> VotingSetup:
    return open_meeting_setup(db)


@pytest.fixture
def admins(db: Session, setup: VotingSetup) -> list[User]:
    return staff(db, setup.area, 3)


def _ref(db: Session, setup: VotingSetup, house: str = WANG) -> str:
    holder = find_voter(db, setup.meeting, house)
    assert holder is not None
    return holder.ref


def _stored(db: Session) -> tuple[int, int, int]:
    return (
        db.scalar(select(func.count()).select_from(PaperEntry)) or 0,
        db.scalar(select(func.count()).select_from(PaperSheet)) or 0,
        db.scalar(select(func.count()).select_from(LogEntry)) or 0,
    )


def _refused(
    db: Session,
    setup: VotingSetup,
    user: User,
    *,
    ref: str | None = None,
    choices: Any = None,
    image: Any = HASH_A,
    now: dt.datetime = VOTING,
) -> PaperRefused:
    before = _stored(db)
    with pytest.raises(PaperRefused) as refused:
        enter_paper(
            db,
            setup.meeting,
            ref if ref is not None else _ref(db, setup),
            {setup.yes_no.id: "yes"} if choices is None else choices,
            image,
            user.id,
            now,
        )
    assert _stored(db) == before
    return refused.value


@pytest.mark.parametrize(
    "image",
    [
        "",
        "abc",
        "g" * 64,
        "a" * 63,
        "a" * 65,
        "sha256:" + "a" * 57,
        None,
        12,
        "a" * 32 + " " + "a" * 31,
    ],
)
def test_paper_bad_image_hash_is_refused(
    db: Session, setup: VotingSetup, admins: list[User], image: Any
) -> None:
    refused = _refused(db, setup, admins[0], image=image)
    assert refused.status == 400 and refused.reason == "image_hash"


def test_paper_image_hash_in_upper_case_is_stored_in_lower_case(
    db: Session, setup: VotingSetup, admins: list[User]
) -> None:
    outcome = enter_paper(
        db,
        setup.meeting,
        _ref(db, setup),
        {setup.yes_no.id: "yes"},
        f" {HASH_A.upper()}\n",
        admins[0].id,
        VOTING,
    )
    assert outcome.entry.image_sha256 == HASH_A


def test_paper_out_of_scope_choice_is_refused(
    db: Session, setup: VotingSetup, admins: list[User]
) -> None:
    # The lift motion concerns building 1 only; the company's unit is in building 2.
    company = _ref(db, setup, COMPANY)
    refused = _refused(db, setup, admins[0], ref=company, choices={setup.choice.id: "Contractor A"})
    assert refused.status == 403 and refused.reason == "scope"
    assert refused.motion is not None and refused.motion.id == setup.choice.id


@pytest.mark.parametrize(
    ("motion", "value"),
    [
        ("yes_no", "maybe"),
        ("yes_no", ["yes"]),
        ("choice", "Contractor C"),
        ("election", ["Candidate 3", "Candidate 1"]),  # not in ascending order
        ("election", ["Candidate 1", "Candidate 2", "Candidate 3"]),  # more than 2 seats
        ("election", []),
    ],
)
def test_paper_invalid_choice_is_refused(
    db: Session, setup: VotingSetup, admins: list[User], motion: str, value: Any
) -> None:
    target = getattr(setup, motion)
    refused = _refused(db, setup, admins[0], choices={target.id: value})
    assert refused.status == 400 and refused.reason == "choice"
    assert f"motion {target.position}" in str(refused)


@pytest.mark.parametrize("choices", [{}, {999_999: "yes"}, {"x": "yes"}, {True: "yes"}, ["yes"]])
def test_paper_empty_or_unknown_motion_is_refused(
    db: Session, setup: VotingSetup, admins: list[User], choices: Any
) -> None:
    refused = _refused(db, setup, admins[0], choices=choices)
    assert refused.status == 400 and refused.reason in {"empty", "unknown_motion"}


def test_paper_unknown_voter_is_refused(
    db: Session, setup: VotingSetup, admins: list[User]
) -> None:
    refused = _refused(db, setup, admins[0], ref="HNOSUCHREF")
    assert refused.status == 404 and refused.reason == "voter"


def test_paper_entries_after_the_window_are_refused(
    db: Session, setup: VotingSetup, admins: list[User]
) -> None:
    refused = _refused(db, setup, admins[0], now=CLOSES)
    assert refused.status == 409 and refused.reason == "not_open"
    close_meeting(db, setup.meeting, now=CLOSES)
    refused = _refused(db, setup, admins[0], now=CLOSES + dt.timedelta(hours=1))
    assert refused.status == 409 and refused.reason == "not_open"
    refused = _refused(db, setup, admins[0], now=OPENS + dt.timedelta(hours=2))
    assert refused.reason == "not_open"  # closed is closed, whatever the clock says


def test_paper_resolution_after_the_close_is_refused(
    db: Session, setup: VotingSetup, admins: list[User]
) -> None:
    ref = _ref(db, setup)
    enter_paper(db, setup.meeting, ref, {setup.yes_no.id: "yes"}, HASH_A, admins[0].id, VOTING)
    enter_paper(db, setup.meeting, ref, {setup.yes_no.id: "no"}, HASH_A, admins[1].id, VOTING)
    close_meeting(db, setup.meeting, now=CLOSES)
    with pytest.raises(PaperRefused) as refused:
        resolve_paper(db, setup.meeting, ref, "first", "late", admins[2].id, CLOSES)
    assert refused.value.reason == "not_open"


def test_paper_staff_without_the_permission_are_refused(
    db: Session, setup: VotingSetup, admins: list[User]
) -> None:
    (observer,) = staff(db, setup.area, 1, Role.observer)
    refused = _refused(db, setup, observer)
    assert refused.status == 403 and refused.reason == "user"
    other_area = ensure_property_area(db, OTHER_PATH)
    db.commit()
    (stranger,) = staff(db, other_area, 1)
    assert _refused(db, setup, stranger).reason == "user"


def test_paper_resolution_refusals(db: Session, setup: VotingSetup, admins: list[User]) -> None:
    ref = _ref(db, setup)
    with pytest.raises(PaperRefused) as refused:
        resolve_paper(db, setup.meeting, ref, "discard", "nothing here", admins[2].id, VOTING)
    assert refused.value.status == 404 and refused.value.reason == "no_sheet"
    with pytest.raises(PaperRefused) as refused:
        resolve_paper(db, setup.meeting, ref, "both", "x", admins[2].id, VOTING)
    assert refused.value.reason == "decision"
    with pytest.raises(PaperRefused) as refused:
        resolve_paper(db, setup.meeting, ref, "discard", "x" * 501, admins[2].id, VOTING)
    assert refused.value.reason == "reason_length"
    enter_paper(db, setup.meeting, ref, {setup.yes_no.id: "yes"}, HASH_A, admins[0].id, VOTING)
    enter_paper(db, setup.meeting, ref, {setup.yes_no.id: "yes"}, HASH_A, admins[1].id, VOTING)
    with pytest.raises(PaperRefused) as refused:
        resolve_paper(db, setup.meeting, ref, "discard", "changed my mind", admins[2].id, VOTING)
    assert refused.value.status == 409 and refused.value.reason == "state"


def test_paper_entries_are_append_only(db: Session, setup: VotingSetup, admins: list[User]) -> None:
    ref = _ref(db, setup)
    enter_paper(db, setup.meeting, ref, {setup.yes_no.id: "yes"}, HASH_A, admins[0].id, VOTING)
    for statement in ("UPDATE paper_entries SET choices = '{}'", "DELETE FROM paper_entries"):
        with pytest.raises(DBAPIError, match="append-only"):
            db.execute(text(statement))
        db.rollback()
    assert db.scalar(select(PaperEntry.choices)) == f'{{"{setup.yes_no.id}":"yes"}}'
