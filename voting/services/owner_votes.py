"""What an owner's voting pages show: their meetings, the motions they may vote on, whether
they have voted, their own ballots, and the public view of one receipt. Reads only.

    owner_meetings(session, card) -> [Meeting]                  noticed and later, of the area
    owner_meeting(session, card, meeting_id) -> Meeting         or NotFound (drafts, other areas)
    motions_for(session, meeting, holder_id) -> [Motion]        the holder's motions, in order
    vote_states(session, motions, holder_id) -> {motion id: VoteState}
    own_ballots(session, meeting, holder_id) -> [OwnBallot]     the holder's ballots, oldest first
    proxies_held(session, meeting, holder_id) -> [HeldProxy]    owners the holder votes for
    receipt_details(session, ballot_hash) -> ReceiptDetails | None

An owner sees only their own ballots: those cast as their vote (by them or their proxy) and
those their cards signed for others as a proxy. Never a choice, never another owner's ballot.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from crypto.canonical import JSONValue
from voting.domain.procedure import MeetingState
from voting.models import (
    Ballot,
    Building,
    Card,
    CountedBallot,
    Holder,
    Meeting,
    Motion,
    PropertyArea,
    Proxy,
    RollEntry,
    Unit,
)
from voting.services import NotFound
from voting.services.ballots import Receipt, eligible_motions, receipt_by_hash
from voting.services.roll import current_version

__all__ = [
    "HeldProxy",
    "OwnBallot",
    "ReceiptDetails",
    "VoteState",
    "motions_for",
    "own_ballots",
    "owner_meeting",
    "owner_meetings",
    "proxies_held",
    "receipt_details",
    "vote_states",
    "voting_is_open",
]

# Listing order: what can be voted on first, then what is coming, then the past.
_STATE_ORDER = {
    MeetingState.open: 0,
    MeetingState.noticed: 1,
    MeetingState.closed: 2,
    MeetingState.published: 3,
    MeetingState.annulled: 4,
}


@dataclass(frozen=True)
class VoteState:
    """The holder's counted ballot on a motion: whether they cast it themselves."""

    in_person: bool


@dataclass(frozen=True)
class OwnBallot:
    motion_id: int
    ballot_hash: str
    cast_at: dt.datetime
    log_index: int
    counted: bool
    for_other: bool  # signed by the holder's card as a proxy for another owner
    by_proxy: bool  # cast for the holder by their proxy


@dataclass(frozen=True)
class HeldProxy:
    """An authorisation in force that lets the holder vote for another owner."""

    proxy: Proxy
    owner: Holder
    houses: list[str]  # the owner's units in the meeting's roll snapshot: "1号楼 1-201"
    instructions: dict[int, JSONValue]  # motion id -> the choice the owner instructed


@dataclass(frozen=True)
class ReceiptDetails:
    receipt: Receipt
    area_name: str
    meeting_title: str
    meeting_state: MeetingState
    motion_title: str
    motion_position: int


def voting_is_open(meeting: Meeting, now: dt.datetime) -> bool:
    """Ballots are accepted now: the meeting is open and its window has not ended."""
    closes = meeting.window_closes_at
    return meeting.state is MeetingState.open and closes is not None and now < closes


def owner_meetings(session: Session, card: Card) -> list[Meeting]:
    """The meetings of the card's area whose notice is posted: open, noticed, then past."""
    rows = session.scalars(
        select(Meeting).where(
            Meeting.property_area_id == card.property_area_id,
            Meeting.state != MeetingState.draft,
        )
    )
    far = dt.datetime.max.replace(tzinfo=dt.UTC)
    return sorted(
        rows,
        key=lambda m: (
            _STATE_ORDER[m.state],
            -(m.window_opens_at or far).timestamp(),
            -m.id,
        ),
    )


def owner_meeting(session: Session, card: Card, meeting_id: int) -> Meeting:
    """A noticed (or later) meeting of the card's area; other areas' meetings and drafts are
    NotFound, so that their existence is not revealed."""
    meeting = session.get(Meeting, meeting_id)
    if (
        meeting is None
        or meeting.property_area_id != card.property_area_id
        or meeting.state is MeetingState.draft
    ):
        raise NotFound(f"no meeting {meeting_id} for this card")
    return meeting


def _current_buildings(session: Session, meeting: Meeting, holder_id: int) -> set[str]:
    area = session.get(PropertyArea, meeting.property_area_id)
    version = None if area is None else current_version(session, area)
    if version is None:
        return set()
    return set(
        session.scalars(
            select(Building.name)
            .select_from(RollEntry)
            .join(Unit, RollEntry.unit_id == Unit.id)
            .join(Building, Unit.building_id == Building.id)
            .where(RollEntry.roll_version_id == version.id, RollEntry.holder_id == holder_id)
            .distinct()
        )
    )


def motions_for(session: Session, meeting: Meeting, holder_id: int) -> list[Motion]:
    """The motions the holder may vote on: against the meeting's roll snapshot once it is
    open; before that, against the area's current roll (what the notice announces)."""
    if meeting.roll_version_id is not None:
        return eligible_motions(session, meeting, holder_id)
    buildings = _current_buildings(session, meeting, holder_id)
    if not buildings:
        return []
    return [m for m in meeting.motions if m.scope is None or not m.scope.isdisjoint(buildings)]


def vote_states(session: Session, motions: list[Motion], holder_id: int) -> dict[int, VoteState]:
    """For each motion with a counted ballot of the holder: who cast it (never the choice)."""
    if not motions:
        return {}
    rows = session.execute(
        select(CountedBallot.motion_id, CountedBallot.in_person).where(
            CountedBallot.holder_id == holder_id,
            CountedBallot.motion_id.in_([motion.id for motion in motions]),
        )
    )
    return {motion_id: VoteState(in_person=in_person) for motion_id, in_person in rows}


def own_ballots(session: Session, meeting: Meeting, holder_id: int) -> list[OwnBallot]:
    """The holder's ballots at this meeting: cast as their vote, or signed by one of their
    cards for another owner; oldest first."""
    counted = select(CountedBallot.ballot_id).where(CountedBallot.ballot_id == Ballot.id)
    rows = session.execute(
        select(Ballot, Card.holder_id, counted.exists())
        .join(Card, Ballot.card_id == Card.id)
        .where(
            Ballot.meeting_id == meeting.id,
            or_(Ballot.holder_id == holder_id, Card.holder_id == holder_id),
        )
        .order_by(Ballot.log_seq, Ballot.id)
    )
    return [
        OwnBallot(
            motion_id=ballot.motion_id,
            ballot_hash=ballot.ballot_hash,
            cast_at=ballot.cast_at,
            log_index=ballot.log_seq,
            counted=bool(is_counted),
            for_other=ballot.holder_id != holder_id,
            by_proxy=ballot.holder_id == holder_id and signer != holder_id,
        )
        for ballot, signer, is_counted in rows
    ]


def receipt_details(session: Session, ballot_hash: str) -> ReceiptDetails | None:
    """A ballot's public receipt with the names a reader needs; None if unknown."""
    receipt = receipt_by_hash(session, ballot_hash)
    if receipt is None:
        return None
    meeting = session.get(Meeting, receipt.meeting)
    motion = session.get(Motion, receipt.motion)
    area = session.scalar(select(PropertyArea).where(PropertyArea.code == receipt.area))
    assert meeting is not None and motion is not None and area is not None
    return ReceiptDetails(
        receipt=receipt,
        area_name=area.name,
        meeting_title=meeting.title,
        meeting_state=meeting.state,
        motion_title=motion.title,
        motion_position=motion.position,
    )


def _houses(session: Session, meeting: Meeting, holder_id: int) -> list[str]:
    if meeting.roll_version_id is None:
        return []
    rows = session.execute(
        select(Building.name, Unit.number)
        .select_from(RollEntry)
        .join(Unit, RollEntry.unit_id == Unit.id)
        .join(Building, Unit.building_id == Building.id)
        .where(
            RollEntry.roll_version_id == meeting.roll_version_id,
            RollEntry.holder_id == holder_id,
        )
        .order_by(Building.name, Unit.number)
    )
    return [f"{building} {number}" for building, number in rows]


def proxies_held(session: Session, meeting: Meeting, holder_id: int) -> list[HeldProxy]:
    """The authorisations in force at this meeting that name the holder as proxy."""
    proxies = session.scalars(
        select(Proxy)
        .where(
            Proxy.meeting_id == meeting.id,
            Proxy.proxy_holder_id == holder_id,
            Proxy.withdrawn_at.is_(None),
        )
        .order_by(Proxy.id)
    )
    held = []
    for proxy in proxies:
        raw = json.loads(proxy.instructions) if proxy.instructions else {}
        held.append(
            HeldProxy(
                proxy=proxy,
                owner=proxy.owner,
                houses=_houses(session, meeting, proxy.owner_holder_id),
                instructions={int(key): value for key, value in raw.items()},
            )
        )
    return held
