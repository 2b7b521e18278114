"""The ballot statement (docs/PROTOCOL.md section 6.1): its exact shape and its choice.

Shared by the server, which checks a ballot as it arrives, and the offline verifier, which
checks it again from the export, so both read a statement the same way. Pure: no I/O.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from crypto.canonical import JSONValue, canonical_bytes
from voting.domain.errors import DomainError
from voting.domain.members import (
    HEX64,
    IDENTIFIER,
    NONCE,
    check_members,
    positive_id,
    text,
    time,
)
from voting.domain.tally import ABSTAIN, NO, YES, Choice, MotionKind

__all__ = [
    "BALLOT_MEMBERS",
    "BALLOT_TYPE",
    "BallotError",
    "BallotStatement",
    "choice_json",
    "parse_ballot",
    "parse_choice",
]

BALLOT_TYPE = "ballot"
BALLOT_MEMBERS = frozenset(
    {
        "type",
        "platform",
        "area",
        "meeting",
        "motion",
        "roll",
        "voter",
        "credential",
        "choice",
        "nonce",
        "time",
    }
)
#: Members a ballot may carry besides BALLOT_MEMBERS: the proxy authorisation's hash.
OPTIONAL_MEMBERS = frozenset({"proxy"})


class BallotError(DomainError):
    """A ballot statement that breaks the protocol; `field` names the offending member."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class BallotStatement:
    platform: str
    area: str
    meeting: int
    motion: int
    roll: str
    voter: str
    credential: str
    choice: JSONValue
    nonce: str
    time: dt.datetime
    time_text: str
    proxy: str | None = None


def parse_ballot(statement: Mapping[str, JSONValue]) -> BallotStatement:
    """Check the members and their types; the choice is checked against the motion later."""
    check_members(statement, BALLOT_TYPE, BALLOT_MEMBERS, OPTIONAL_MEMBERS, BallotError, "a ballot")
    proxy = statement.get("proxy")
    if proxy is not None:
        proxy = text(statement, "proxy", HEX64, BallotError)
    moment, time_text = time(statement, BallotError)
    return BallotStatement(
        platform=text(statement, "platform", IDENTIFIER, BallotError),
        area=text(statement, "area", IDENTIFIER, BallotError),
        meeting=positive_id(statement, "meeting", BallotError),
        motion=positive_id(statement, "motion", BallotError),
        roll=text(statement, "roll", HEX64, BallotError),
        voter=text(statement, "voter", IDENTIFIER, BallotError),
        credential=text(statement, "credential", HEX64, BallotError),
        choice=statement["choice"],
        nonce=text(statement, "nonce", NONCE, BallotError),
        time=moment,
        time_text=time_text,
        proxy=proxy,
    )


def parse_choice(kind: MotionKind, options: Sequence[str], seats: int, value: JSONValue) -> Choice:
    """The tally's choice for a statement's "choice" member, or BallotError.

    Yes/no: "yes", "no" or "abstain". Several options: one option's label or "abstain".
    Election: "abstain" or a list of distinct candidate labels, at most `seats`, in
    ascending order (so one choice has one encoding).
    """
    if value == ABSTAIN:
        return ABSTAIN
    if kind is MotionKind.YES_NO:
        if value in (YES, NO):
            assert isinstance(value, str)
            return value
        raise BallotError("choice must be 'yes', 'no' or 'abstain'", "choice")
    if kind is MotionKind.CHOICE:
        if isinstance(value, str) and value in options:
            return value
        raise BallotError("choice is not one of the motion's options", "choice")
    if not isinstance(value, list) or not value:
        raise BallotError("an election choice is a non-empty list of candidates", "choice")
    if not all(isinstance(item, str) and item in options for item in value):
        raise BallotError("choice names someone who is not a candidate", "choice")
    if len(value) > seats:
        raise BallotError(f"choice names more candidates than the {seats} seats", "choice")
    if list(value) != sorted(set(value)):
        raise BallotError("candidates must be distinct and in ascending order", "choice")
    return frozenset(item for item in value if isinstance(item, str))


def choice_json(choice: Choice) -> str:
    """The canonical JSON text of a choice, as a statement carries it."""
    value: JSONValue = sorted(choice) if isinstance(choice, frozenset) else choice
    return canonical_bytes(value).decode()
