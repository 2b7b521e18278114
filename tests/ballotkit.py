"""A property area with an open meeting and owner cards, for ballot, proxy, paper, result and
export tests (importable from every test folder: `from ballotkit import ...`).

    setup = open_meeting_setup(db)            # sample roll, cards, 3 motions, open at OPENS
    data, signature = sign_ballot(db, setup, setup.cards[0], setup.yes_no, "yes")
    receipt = cast(db, setup, setup.cards[0], setup.yes_no, "yes")

The sample roll (tests/data/rolls/sample_zh.csv) has 11 units in 3 buildings; cards are
issued to its holders in holder-ref order. Times are fixed: the notice is posted at T0, the
window is [OPENS, CLOSES), and ballots are cast at VOTING (one hour into the window).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from crypto.canonical import JSONValue, canonical_bytes
from crypto.keys import CardKey
from voting.demo import DEMO_PATH
from voting.domain.procedure import MotionSpec, ResultDetail, RulesOfProcedure
from voting.domain.tally import MotionKind
from voting.models import Card, Channel, Meeting, Motion, PropertyArea
from voting.services.ballots import Receipt, ballot_challenge, ballot_nonce_key, cast_ballot
from voting.services.cards import IssuedCard, issue_cards
from voting.services.meetings import (
    add_motion,
    create_meeting,
    open_meeting,
    post_notice,
    set_rules,
)
from voting.services.roll import import_roll
from voting.services.tenancy import ensure_property_area

SAMPLE = Path(__file__).resolve().parent / "data" / "rolls" / "sample_zh.csv"
PLATFORM = "vote.example.org"
NONCE_KEY = ballot_nonce_key("test-secret-key-for-ballot-nonces")
ISSUER_SEED = bytes(range(32, 64))
T0 = dt.datetime(2026, 12, 1, 2, 0, tzinfo=dt.UTC)
OPENS = T0 + dt.timedelta(days=15)
CLOSES = OPENS + dt.timedelta(days=7)
VOTING = OPENS + dt.timedelta(hours=1)

YES_NO = MotionSpec(
    matter=4,
    kind=MotionKind.YES_NO,
    title="Renew the property service contract",
    text="Renew the contract with the current company for three years.",
)
CHOICE = MotionSpec(
    matter=7,
    kind=MotionKind.CHOICE,
    title="Lift renovation in building 1",
    text="Choose the contractor for the lift renovation.",
    options=("Contractor A", "Contractor B"),
    scope=frozenset({"1号楼"}),
)
ELECTION = MotionSpec(
    matter=3,
    kind=MotionKind.ELECTION,
    title="Committee election",
    text="Elect two members of the owners' committee.",
    options=("Candidate 1", "Candidate 2", "Candidate 3"),
    seats=2,
)


@dataclass
class VotingSetup:
    area: PropertyArea
    meeting: Meeting
    yes_no: Motion
    choice: Motion
    election: Motion
    cards: list[IssuedCard]

    def card_row(self, db: Session, issued: IssuedCard) -> Card:
        card = db.get(Card, issued.card_id)
        assert card is not None
        return card


def open_meeting_setup(
    db: Session,
    *,
    allow_vote_change: bool = False,
    proxy_cap: int = 2,
    result_detail: ResultDetail = ResultDetail.per_unit,
    roll: bytes | None = None,
) -> VotingSetup:
    """Area NHXY with the sample roll, one card per holder and an open meeting."""
    area = ensure_property_area(db, DEMO_PATH)
    db.commit()
    import_roll(
        db, area, "roll.csv", roll or SAMPLE.read_bytes(), "key", expected_base_version=None
    )
    cards = issue_cards(
        db,
        area,
        CardKey(ISSUER_SEED),
        base_url="https://vote.example",
        now=T0 - dt.timedelta(days=2),
    )
    set_rules(
        db,
        area,
        RulesOfProcedure(
            notice_days=15,
            allow_vote_change=allow_vote_change,
            proxy_cap=proxy_cap,
            parking_counts=True,
            result_detail=result_detail,
        ),
        now=T0 - dt.timedelta(days=1),
    )
    meeting = create_meeting(db, area, "2026年第一次业主大会会议", now=T0 - dt.timedelta(days=1))
    motions = [add_motion(db, meeting, spec) for spec in (YES_NO, CHOICE, ELECTION)]
    post_notice(db, meeting, OPENS, CLOSES, now=T0)
    open_meeting(db, meeting, now=OPENS)
    db.refresh(meeting)
    return VotingSetup(area, meeting, motions[0], motions[1], motions[2], cards)


def statement_for(
    db: Session,
    setup: VotingSetup,
    issued: IssuedCard,
    motion: Motion,
    choice: JSONValue,
    *,
    now: dt.datetime = VOTING,
    voter: Any = None,
    proxy: str | None = None,
) -> dict[str, JSONValue]:
    """A ballot statement answering a fresh challenge (not yet signed)."""
    challenge = ballot_challenge(
        db,
        setup.card_row(db, issued),
        setup.meeting,
        voter=voter,
        platform=PLATFORM,
        key=NONCE_KEY,
        now=now,
    )
    statement = challenge.statement(motion.id, choice)
    if proxy is not None:
        statement["proxy"] = proxy
    return statement


def sign(issued: IssuedCard, statement: dict[str, JSONValue]) -> tuple[bytes, bytes]:
    data = canonical_bytes(statement)
    assert issued.seed is not None
    return data, CardKey(issued.seed).sign(data)


def sign_ballot(
    db: Session,
    setup: VotingSetup,
    issued: IssuedCard,
    motion: Motion,
    choice: JSONValue,
    **kwargs: Any,
) -> tuple[bytes, bytes]:
    return sign(issued, statement_for(db, setup, issued, motion, choice, **kwargs))


def cast(
    db: Session,
    setup: VotingSetup,
    issued: IssuedCard,
    motion: Motion,
    choice: JSONValue,
    *,
    now: dt.datetime = VOTING,
    **kwargs: Any,
) -> Receipt:
    data, signature = sign_ballot(db, setup, issued, motion, choice, now=now, **kwargs)
    return cast_ballot(
        db,
        data,
        signature,
        card_id=issued.card_id,
        platform=PLATFORM,
        key=NONCE_KEY,
        channel=Channel.web,
        now=now,
    )
