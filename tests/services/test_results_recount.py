"""The stored results equal what `voting tally` prints for the exported snapshot and ballots:
yes/no, choice and election motions, a scoped motion, the developer, proxies and paper
ballots, and parking spaces that do not count."""

from __future__ import annotations

from pathlib import Path

from ballotkit import CLOSES, open_meeting_setup
from exportkit import closed_meeting
from resultskit import (
    area_text,
    option_count,
    recount,
    same_participation,
    second_meeting,
    stored_result,
    vote_all,
    voted_meeting,
)
from sqlalchemy.orm import Session

from voting.models import Meeting, Motion
from voting.services.meetings import close_meeting


def _check_yes_no(db: Session, meeting: Meeting, motion: Motion, tmp_path: Path) -> None:
    stored = stored_result(db, motion)
    printed = recount(db, meeting, motion, tmp_path)
    same_participation(stored, printed)
    for option in ("yes", "no", "abstain"):
        count = option_count(stored, option)
        assert printed[f"{option}_area"] == area_text(count)
        assert printed[f"{option}_headcount"] == count["headcount"]
    assert printed["passed"] == (stored["outcome"] == "passed")


def _check_options(db: Session, meeting: Meeting, motion: Motion, tmp_path: Path) -> None:
    """Each option recounted on its own: its figures and whether it alone met the rule."""
    stored = stored_result(db, motion)
    carried = []
    for option in stored["options"]:
        printed = recount(db, meeting, motion, tmp_path, option)
        same_participation(stored, printed)
        count = option_count(stored, option)
        assert printed["yes_area"] == area_text(count)
        assert printed["yes_headcount"] == count["headcount"]
        assert printed["abstain_headcount"] == option_count(stored, "abstain")["headcount"]
        if printed["passed"]:
            carried.append(option)
    if stored["kind"] == "choice":
        winner = carried[0] if len(carried) == 1 else None
        assert stored["winner"] == winner
        expected = "passed" if winner else ("no_decision" if stored["quorum_met"] else "no_quorum")
        assert stored["outcome"] == expected
    else:
        assert stored["approved"] == carried
        assert set(stored["elected"]) <= set(carried)
        assert stored["outcome"] == (
            "passed" if carried else ("no_decision" if stored["quorum_met"] else "no_quorum")
        )


def test_results_recount_yes_no_with_the_developer(db: Session, tmp_path: Path) -> None:
    setup = voted_meeting(db)
    _check_yes_no(db, setup.meeting, setup.yes_no, tmp_path)
    stored = stored_result(db, setup.yes_no)
    # 王伟, 李娜 and the developer for; 陈静 against; the company abstains; 赵磊 is absent.
    assert stored["participation"]["headcount"] == 5 and stored["totals"]["headcount"] == 6
    assert option_count(stored, "yes")["headcount"] == 3
    assert stored["outcome"] == "passed"


def test_results_recount_scoped_choice_motion(db: Session, tmp_path: Path) -> None:
    setup = voted_meeting(db)
    _check_options(db, setup.meeting, setup.choice, tmp_path)
    stored = stored_result(db, setup.choice)
    assert stored["scope"] == ["1号楼"] and stored["rule"] == "special"
    # Building 1 only: 王伟's two flats (not his parking space), 李娜 and 陈静.
    assert stored["totals"] == {"area_centi": 8950 + 12005 + 8950 + 12005, "headcount": 3}
    # Contractor A has 299.05 of 419.10 m² (71 %), short of three quarters.
    assert option_count(stored, "Contractor A")["area_centi"] == 29905
    assert stored["outcome"] == "no_decision" and stored["winner"] is None


def test_results_recount_election(db: Session, tmp_path: Path) -> None:
    setup = voted_meeting(db)
    _check_options(db, setup.meeting, setup.election, tmp_path)
    stored = stored_result(db, setup.election)
    assert stored["approved"] == ["Candidate 1"] and stored["elected"] == ["Candidate 1"]
    assert stored["outcome"] == "passed" and stored["seats"] == 2


def test_results_recount_with_proxies_changed_votes_and_paper(db: Session, tmp_path: Path) -> None:
    setup = closed_meeting(db)  # exportkit: proxies, an override, changed votes, paper
    _check_yes_no(db, setup.meeting, setup.yes_no, tmp_path)
    _check_options(db, setup.meeting, setup.choice, tmp_path)
    _check_options(db, setup.meeting, setup.election, tmp_path)
    stored = stored_result(db, setup.yes_no)
    assert stored["ballots"] == {"electronic": 2, "paper": 2, "set_aside": 0}


def test_results_recount_parking_does_not_count(db: Session, tmp_path: Path) -> None:
    first = open_meeting_setup(db)
    setup = second_meeting(db, first, parking_counts=False)
    vote_all(db, setup)
    close_meeting(db, setup.meeting, now=CLOSES)
    db.refresh(setup.meeting)
    _check_yes_no(db, setup.meeting, setup.yes_no, tmp_path)
    _check_options(db, setup.meeting, setup.election, tmp_path)
    stored = stored_result(db, setup.yes_no)
    with_parking = 88980
    assert stored["parking_counts"] is False
    assert stored["totals"]["area_centi"] == with_parking - 1250 - 1300  # B1-001, B1-002
