"""Ballots cast in parallel, from real threads each with its own database session (as
separate web workers would): the database keeps one counted ballot per voter and motion,
the latest by log index where changes are allowed, and the log stays gapless."""

from __future__ import annotations

import csv
import io
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from ballotkit import NONCE_KEY, PLATFORM, SAMPLE, VOTING, VotingSetup, open_meeting_setup, sign
from ballotkit import statement_for as ballot_statement
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from voting.database import get_database
from voting.models import Ballot, Channel, CountedBallot, LogEntry
from voting.services.ballots import BallotRefused, cast_ballot

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def id_number(serial: int) -> str:
    """A mainland ID number (born 1980-01-01) with a valid GB 11643 check digit."""
    body = f"110105198001{serial:05d}"
    assert len(body) == 17
    total = sum(int(digit) * weight for digit, weight in zip(body, _ID_WEIGHTS, strict=True))
    return body + "10X98765432"[total % 11]


def big_roll(holders: int) -> bytes:
    """A roll with the sample's columns: `holders` owners of one flat each in 1号楼."""
    header = SAMPLE.read_text(encoding="utf-8").splitlines()[0].split(",")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for n in range(1, holders + 1):
        writer.writerow(
            [
                "1号楼",
                f"{n // 100 + 1}-{n % 100 + 100}",
                "88.00",
                "不动产登记",
                "已售",
                "个人",
                f"业主{n:03d}",
                id_number(n),
                "",
                "否",
                "",
                "",
            ]
        )
    return buffer.getvalue().encode("utf-8")


def run_parallel(app: Any, jobs: list[Callable[[Session], Any]]) -> list[Any]:
    """Run each job in its own thread with its own session, all released at once; returns
    each job's result or the BallotRefused it raised."""
    sessionmaker = get_database(app).sessionmaker
    start = threading.Barrier(len(jobs))

    def run(job: Callable[[Session], Any]) -> Any:
        start.wait()
        with sessionmaker() as session:
            try:
                return job(session)
            except BallotRefused as refusal:
                return refusal

    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        return list(pool.map(run, jobs))


def caster(issued: Any, data: bytes, signature: bytes) -> Callable[[Session], Any]:
    def job(session: Session) -> Any:
        return cast_ballot(
            session,
            data,
            signature,
            card_id=issued.card_id,
            platform=PLATFORM,
            key=NONCE_KEY,
            channel=Channel.web,
            now=VOTING,
        )

    return job


def count(db: Session, model: Any) -> int:
    db.rollback()
    return db.scalar(select(func.count()).select_from(model)) or 0


def assert_log_gapless(db: Session, setup: VotingSetup) -> None:
    db.rollback()
    seqs = list(
        db.scalars(
            select(LogEntry.seq)
            .where(LogEntry.property_area_id == setup.area.id)
            .order_by(LogEntry.seq)
        )
    )
    assert seqs == list(range(len(seqs)))


def one_voter_ballots(db: Session, setup: VotingSetup, n: int) -> list[Callable[[Session], Any]]:
    issued = setup.cards[0]
    jobs = []
    for i in range(n):
        choice = ("yes", "no", "abstain")[i % 3]
        data, signature = sign(issued, ballot_statement(db, setup, issued, setup.yes_no, choice))
        jobs.append(caster(issued, data, signature))
    db.rollback()
    return jobs


def test_ballots_concurrency_one_voter_one_counted_ballot(app: Any, db: Session) -> None:
    setup = open_meeting_setup(db)
    outcomes = run_parallel(app, one_voter_ballots(db, setup, 50))
    refusals = [o for o in outcomes if isinstance(o, BallotRefused)]
    accepted = [o for o in outcomes if not isinstance(o, BallotRefused)]
    assert len(accepted) == 1
    assert Counter((r.status, r.reason) for r in refusals) == {(409, "already_voted"): 49}
    assert count(db, Ballot) == 1 and count(db, CountedBallot) == 1
    counted = db.scalar(select(CountedBallot))
    assert counted is not None
    ballot = db.get(Ballot, counted.ballot_id)
    assert ballot is not None and ballot.ballot_hash == accepted[0].ballot_hash
    assert_log_gapless(db, setup)


def test_ballots_concurrency_changes_allowed_latest_counts(app: Any, db: Session) -> None:
    setup = open_meeting_setup(db, allow_vote_change=True)
    outcomes = run_parallel(app, one_voter_ballots(db, setup, 50))
    assert not [o for o in outcomes if isinstance(o, BallotRefused)]
    assert count(db, Ballot) == 50 and count(db, CountedBallot) == 1
    latest = db.scalar(select(Ballot).order_by(Ballot.log_seq.desc()).limit(1))
    counted = db.scalar(select(CountedBallot))
    assert latest is not None and counted is not None
    assert counted.ballot_id == latest.id
    assert sorted(o.log_index for o in outcomes) == sorted(db.scalars(select(Ballot.log_seq)).all())
    assert_log_gapless(db, setup)


def test_ballots_concurrency_same_statement_twice(app: Any, db: Session) -> None:
    """One signed ballot submitted 10 times at once: stored once, the rest are replays."""
    setup = open_meeting_setup(db, allow_vote_change=True)
    issued = setup.cards[0]
    data, signature = sign(issued, ballot_statement(db, setup, issued, setup.yes_no, "yes"))
    db.rollback()
    outcomes = run_parallel(app, [caster(issued, data, signature) for _ in range(10)])
    refusals = [o for o in outcomes if isinstance(o, BallotRefused)]
    assert Counter((r.status, r.reason) for r in refusals) == {(409, "replayed"): 9}
    assert count(db, Ballot) == 1 and count(db, CountedBallot) == 1
    assert_log_gapless(db, setup)


@pytest.mark.slow
def test_ballots_concurrency_200_voters_all_counted(app: Any, db: Session) -> None:
    setup = open_meeting_setup(db, roll=big_roll(200))
    assert len(setup.cards) == 200
    jobs = []
    for issued in setup.cards:
        data, signature = sign(
            issued, ballot_statement(db, setup, issued, setup.choice, "Contractor B")
        )
        jobs.append(caster(issued, data, signature))
    db.rollback()
    before = count(db, LogEntry)
    outcomes = run_parallel(app, jobs)
    assert not [o for o in outcomes if isinstance(o, BallotRefused)]
    assert count(db, Ballot) == 200 and count(db, CountedBallot) == 200
    assert count(db, LogEntry) == before + 200
    assert len({o.log_index for o in outcomes}) == 200
    assert_log_gapless(db, setup)
