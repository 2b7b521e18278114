"""Casting signed ballots: the happy path, receipts and the one-counted-ballot rule."""

from __future__ import annotations

from typing import Any

import pytest
from ballotkit import PLATFORM, VOTING, VotingSetup, cast, open_meeting_setup
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from voting.models import Ballot, CountedBallot, LogEntry
from voting.services.ballots import BallotRefused, counted_ballots, receipt_by_hash


@pytest.fixture
def setup(db: Session) -> VotingSetup:
    return open_meeting_setup(db)


def _count(db: Session, model: Any) -> int:
    return db.scalar(select(func.count()).select_from(model)) or 0


def test_ballots_cast_returns_a_receipt_logged_and_counted(db: Session, setup: VotingSetup) -> None:
    receipt = cast(db, setup, setup.cards[0], setup.yes_no, "yes")
    assert receipt.meeting == setup.meeting.id and receipt.motion == setup.yes_no.id
    ballot = db.scalar(select(Ballot))
    assert ballot is not None and ballot.ballot_hash == receipt.ballot_hash
    entry = db.scalar(select(LogEntry).where(LogEntry.seq == receipt.log_index))
    assert entry is not None and entry.kind == "ballot"
    assert receipt.ballot_hash.encode() in entry.entry
    assert receipt_by_hash(db, receipt.ballot_hash) == receipt
    assert counted_ballots(db, setup.yes_no) == [(setup.cards[0].holder_ref, "yes")]
    assert PLATFORM.encode() in ballot.statement


def test_ballots_second_ballot_refused_when_changes_not_allowed(
    db: Session, setup: VotingSetup
) -> None:
    cast(db, setup, setup.cards[0], setup.yes_no, "yes")
    with pytest.raises(BallotRefused) as refused:
        cast(db, setup, setup.cards[0], setup.yes_no, "no")
    assert refused.value.status == 409
    assert _count(db, Ballot) == 1 and _count(db, CountedBallot) == 1
    assert counted_ballots(db, setup.yes_no) == [(setup.cards[0].holder_ref, "yes")]


def test_ballots_latest_counts_when_changes_allowed(db: Session) -> None:
    setup = open_meeting_setup(db, allow_vote_change=True)
    first = cast(db, setup, setup.cards[0], setup.yes_no, "yes")
    second = cast(db, setup, setup.cards[0], setup.yes_no, "no")
    assert second.log_index > first.log_index
    assert _count(db, Ballot) == 2
    assert counted_ballots(db, setup.yes_no) == [(setup.cards[0].holder_ref, "no")]
    old = receipt_by_hash(db, first.ballot_hash)
    assert old is not None and not old.counted


def test_ballots_election_and_choice_motions(db: Session, setup: VotingSetup) -> None:
    cast(db, setup, setup.cards[0], setup.election, ["Candidate 1", "Candidate 3"])
    cast(db, setup, setup.cards[0], setup.choice, "Contractor B")
    assert counted_ballots(db, setup.election) == [
        (setup.cards[0].holder_ref, frozenset({"Candidate 1", "Candidate 3"}))
    ]
    with pytest.raises(BallotRefused) as refused:
        cast(db, setup, setup.cards[1], setup.election, ["Candidate 3", "Candidate 1"])
    assert refused.value.status == 400 and "ascending" in str(refused.value)
    assert VOTING
