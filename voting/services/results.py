"""A meeting's results: tallied once at the close, participation while voting runs.

    record_results(session, meeting, area, now)  inside close_meeting's transaction: one
                                                 MotionResult and one "tally" log entry
                                                 per motion
    turnout(session, meeting) -> dict            participation per motion, never a choice
    results(session, meeting) -> dict            the stored results, with a breakdown per
                                                 building and, where the rules of procedure
                                                 say so, the list of units with their choice

Every figure comes from the one tally engine, `voting.domain.tally.tally`, run on the
meeting's roll snapshot (the `RollEntry` rows of `meeting.roll_version_id`) and the counted
ballots: electronic ones (`voting.services.ballots.counted_ballots`) and paper ones
(`voting.services.paper.counted_paper`), an electronic ballot superseding a paper one of the
same voter. Turnout runs the same engine with every ballot read as an abstention, so that
participation is computed without ever touching a choice. The stored result is canonical
JSON (docs/TALLY.md, "A meeting's results"), hashed into the log, so that anyone holding
the election record can recount it and compare.

Everything returned is plain JSON values (int, str, bool, None, list, dict): the JSON API
serves these dicts as they are. Areas are integer hundredths of a square metre
(`*_area_centi`); nothing is ever a float.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib
import importlib.util
import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crypto.canonical import JSONValue, canonical_bytes
from crypto.statements import format_time
from voting.domain.errors import TallyError
from voting.domain.procedure import MeetingState, ResultDetail
from voting.domain.tally import (
    ABSTAIN,
    Ballot,
    Choice,
    MotionKind,
    TallyRequest,
    TallyResult,
    UnitShare,
    tally,
)
from voting.domain.verify_results import (
    NOT_COUNTED,
    RESULT_FORMAT,
    choice_value,
    decision,
    participation,
    quorum_needed,
)
from voting.domain.verify_results import ballots_sha256 as ballot_input_sha256
from voting.models import Ballot as BallotRow
from voting.models import (
    Building,
    CountedBallot,
    Holder,
    HolderKind,
    Meeting,
    Motion,
    MotionResult,
    PropertyArea,
    RollEntry,
    Unit,
)
from voting.services import NotFound, ServiceError, log
from voting.services.ballots import counted_ballots
from voting.services.meetings import motion_spec

__all__ = [
    "NOT_COUNTED",
    "RESULT_FORMAT",
    "ResultsRefused",
    "ballot_input_sha256",
    "choice_value",
    "quorum_needed",
    "record_results",
    "results",
    "turnout",
]

_AFTER_CLOSE = frozenset({MeetingState.closed, MeetingState.published, MeetingState.annulled})
_PAPER_MODULE = "voting.services.paper"
# The person the developer's units make together (all of them count as one owner).
_DEVELOPER = "\x00developer"


class ResultsRefused(ServiceError):
    """The results cannot be computed or shown (yet); nothing was changed."""


# --- the roll snapshot ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _House:
    """One unit of the snapshot as the results use it: never the holder's name."""

    building: str
    number: str
    area_centi: int
    holder: str  # holder ref
    developer: bool

    @property
    def unit_id(self) -> str:
        return f"{self.building}/{self.number}"


@dataclass(frozen=True)
class _Snapshot:
    """The units that count at this meeting (parking excluded when the rules say so)."""

    houses: tuple[_House, ...]

    def units(self) -> list[UnitShare]:
        return [
            UnitShare(h.unit_id, h.building, h.area_centi, h.holder, developer_held=h.developer)
            for h in self.houses
        ]

    def in_scope(self, scope: frozenset[str] | None) -> list[_House]:
        return [h for h in self.houses if scope is None or h.building in scope]


def _snapshot(session: Session, meeting: Meeting) -> _Snapshot:
    if meeting.roll_version_id is None:
        raise ResultsRefused(f"meeting {meeting.id} has not opened: it has no roll snapshot")
    query = (
        select(Building.name, Unit.number, RollEntry.area_centi, Holder.ref, Holder.kind)
        .select_from(RollEntry)
        .join(Unit, RollEntry.unit_id == Unit.id)
        .join(Building, Unit.building_id == Building.id)
        .join(Holder, RollEntry.holder_id == Holder.id)
        .where(RollEntry.roll_version_id == meeting.roll_version_id)
        .order_by(Building.name, Unit.number)
    )
    if not meeting.rules_parking_counts:
        query = query.where(RollEntry.is_parking.is_(False))
    houses = tuple(
        _House(building, number, int(area), ref, kind is HolderKind.developer)
        for building, number, area, ref, kind in session.execute(query)
    )
    return _Snapshot(houses)


# --- the counted ballots ----------------------------------------------------------------


def _paper_counter() -> Callable[[Session, Motion], list[tuple[str, Choice]]] | None:
    """`counted_paper` of the paper ballot feature, if that feature is installed."""
    if importlib.util.find_spec(_PAPER_MODULE) is None:
        return None
    found = getattr(importlib.import_module(_PAPER_MODULE), "counted_paper", None)
    return found if callable(found) else None


@dataclass(frozen=True)
class _Counted:
    """The ballots of one motion that count, one per voter, and where each came from."""

    electronic: tuple[tuple[str, Choice], ...]  # (holder ref, choice), by ref
    electronic_hashes: tuple[str, ...]  # sorted ballot hashes of the counted ballots
    paper: tuple[tuple[str, Choice], ...]  # paper choices not superseded, by ref
    set_aside: tuple[str, ...]  # refs of voters holding no unit that counts on the motion

    @property
    def channels(self) -> dict[str, str]:
        found = {ref: "paper" for ref, _c in self.paper}
        found.update((ref, "electronic") for ref, _c in self.electronic)
        return found

    def ballots(self) -> list[Ballot]:
        """The tally's ballots, by holder ref, without the ones set aside."""
        skip = set(self.set_aside)
        found = [Ballot(ref, c) for ref, c in (*self.electronic, *self.paper) if ref not in skip]
        return sorted(found, key=lambda b: b.holder_id)


def _counted_hashes(session: Session, motion: Motion) -> tuple[str, ...]:
    query = (
        select(BallotRow.ballot_hash)
        .select_from(CountedBallot)
        .join(BallotRow, CountedBallot.ballot_id == BallotRow.id)
        .where(CountedBallot.motion_id == motion.id)
    )
    return tuple(sorted(session.scalars(query)))


def _counted(session: Session, motion: Motion, voters: set[str]) -> _Counted:
    """Electronic and paper ballots of `motion`; `voters` are the refs that may count on it."""
    electronic = tuple(counted_ballots(session, motion))
    seen = {ref for ref, _c in electronic}
    counter = _paper_counter()
    paper = tuple(
        (ref, choice)
        for ref, choice in (counter(session, motion) if counter is not None else [])
        if ref not in seen  # the electronic ballot supersedes the paper one (RULES.md)
    )
    set_aside = tuple(sorted({ref for ref, _c in (*electronic, *paper)} - voters))
    return _Counted(electronic, _counted_hashes(session, motion), paper, set_aside)


def _scope_voters(houses: Sequence[_House]) -> set[str]:
    return {h.holder for h in houses}


def _tally(motion: Motion, snapshot: _Snapshot, ballots: list[Ballot]) -> TallyResult | str:
    """The engine's result, or why it refused to count (a roll snapshot with no unit in the
    motion's scope, say): the caller records that instead of blocking the close."""
    spec = motion_spec(motion)
    request = TallyRequest(spec.tally_motion(), snapshot.units(), ballots, spec.scope)
    try:
        return tally(request)
    except TallyError as exc:
        return str(exc)


# --- recording the results at the close -------------------------------------------------


def _document(
    meeting: Meeting,
    motion: Motion,
    result: TallyResult | str,
    counted: _Counted,
    now: dt.datetime,
) -> dict[str, JSONValue]:
    """The canonical result of one motion (docs/TALLY.md lists every member)."""
    spec = motion_spec(motion)
    return {
        "format": RESULT_FORMAT,
        "meeting": meeting.id,
        "motion": motion.id,
        "position": motion.position,
        "matter": spec.matter,
        "kind": spec.kind.value,
        "rule": spec.rule.value,
        "options": list(spec.options),
        "seats": spec.seats,
        "scope": sorted(spec.scope) if spec.scope is not None else None,
        "parking_counts": bool(meeting.rules_parking_counts),
        **decision(result),
        "ballots": {
            "electronic": len(counted.electronic) - _aside(counted.electronic, counted),
            "paper": len(counted.paper) - _aside(counted.paper, counted),
            "set_aside": len(counted.set_aside),
        },
        "inputs": {
            "roll_sha256": meeting.roll_sha256,
            "ballots_sha256": ballot_input_sha256(counted.electronic_hashes, counted.paper),
        },
        "tallied_at": format_time(now),
    }


def _aside(ballots: Sequence[tuple[str, Choice]], counted: _Counted) -> int:
    skip = set(counted.set_aside)
    return sum(1 for ref, _c in ballots if ref in skip)


def record_results(
    session: Session, meeting: Meeting, area: PropertyArea, now: dt.datetime
) -> list[MotionResult]:
    """Tally every motion of a meeting being closed and store and log each result.

    Runs inside the caller's transaction (`close_meeting`), after the meeting is locked and
    before its "meeting.close" entry, so the results and the close commit together or not at
    all. A ballot from a voter with no unit that counts on the motion (only a parking space
    where parking does not count) is set aside and counted in `ballots.set_aside`.
    """
    snapshot = _snapshot(session, meeting)
    motions = list(
        session.scalars(
            select(Motion).where(Motion.meeting_id == meeting.id).order_by(Motion.position)
        )
    )
    stored: list[MotionResult] = []
    for motion in motions:
        if session.get(MotionResult, motion.id) is not None:
            raise ResultsRefused(f"motion {motion.position} already has a recorded result")
        counted = _counted(session, motion, _scope_voters(snapshot.in_scope(motion.scope)))
        result = _tally(motion, snapshot, counted.ballots())
        data = canonical_bytes(_document(meeting, motion, result, counted, now))
        digest = hashlib.sha256(data).hexdigest()
        entry = log.append(
            session,
            area,
            "tally",
            {"meeting": meeting.id, "motion": motion.id, "result_sha256": digest},
            at=now,
        )
        row = MotionResult(
            motion_id=motion.id,
            meeting_id=meeting.id,
            result=data,
            result_sha256=digest,
            tallied_at=now,
            log_seq=entry.seq,
        )
        session.add(row)
        stored.append(row)
    session.flush()
    return stored


# --- turnout while voting runs ----------------------------------------------------------


def _voters_of(session: Session, motion: Motion) -> list[str]:
    """Refs of the voters who took part on `motion`, without reading any choice."""
    electronic = set(
        session.scalars(
            select(Holder.ref)
            .select_from(CountedBallot)
            .join(Holder, CountedBallot.holder_id == Holder.id)
            .where(CountedBallot.motion_id == motion.id)
        )
    )
    counter = _paper_counter()
    paper = {ref for ref, _c in counter(session, motion)} if counter is not None else set()
    return sorted(electronic | paper)


def _time(moment: dt.datetime | None) -> str | None:
    return None if moment is None else format_time(moment)


def _meeting_head(meeting: Meeting) -> dict[str, Any]:
    return {
        "meeting": meeting.id,
        "title": meeting.title,
        "state": meeting.state.value,
        "roll_sha256": meeting.roll_sha256,
        "parking_counts": bool(meeting.rules_parking_counts),
        "window_opens_at": _time(meeting.window_opens_at),
        "window_closes_at": _time(meeting.window_closes_at),
    }


def turnout(session: Session, meeting: Meeting) -> dict[str, Any]:
    """Participation per motion against the totals in scope and the 2/3 quorum.

    Never a choice: each voter's ballot is counted as an abstention, which the engine counts
    as participation exactly like any other choice. Refused (`ResultsRefused`) before voting
    opens, when there is no roll snapshot yet.
    """
    snapshot = _snapshot(session, meeting)
    motions = []
    for motion in meeting.motions:
        voters = _scope_voters(snapshot.in_scope(motion.scope))
        ballots = [Ballot(ref, ABSTAIN) for ref in _voters_of(session, motion) if ref in voters]
        result = _tally(motion, snapshot, ballots)
        figures: dict[str, Any] = (
            {"error": result} if isinstance(result, str) else participation(result)
        )
        motions.append(
            {
                "motion": motion.id,
                "position": motion.position,
                "title": motion.title,
                "scope": sorted(motion.scope) if motion.scope is not None else None,
            }
            | figures
        )
    return _meeting_head(meeting) | {"motions": motions}


# --- results after the close ------------------------------------------------------------


def _person(house: _House) -> str:
    return _DEVELOPER if house.developer else house.holder


def _persons_of_ballots(houses: Sequence[_House], refs: Iterable[str]) -> dict[str, str]:
    """Holder ref of each ballot → the person whose units it covers (as the engine decides:
    a ref's own units first, else the developer's units it is carried by)."""
    own = {h.holder for h in houses if not h.developer}
    developer = {h.holder for h in houses if h.developer}
    found = {}
    for ref in refs:
        if ref in own:
            found[ref] = ref
        elif ref in developer:
            found[ref] = _DEVELOPER
    return found


def _option_keys(kind: MotionKind, choice: Choice) -> list[str]:
    """The counts a choice adds to: one option, several candidates, or abstain."""
    if kind is MotionKind.ELECTION:
        if isinstance(choice, frozenset):
            return sorted(choice) if choice else [ABSTAIN]
        return [ABSTAIN]
    return [str(choice)]


def _by_building(
    motion: Motion, houses: Sequence[_House], ballots: Sequence[Ballot]
) -> list[dict[str, Any]]:
    """Per building: totals, participation and each option's area and headcount. A person
    with units in two buildings counts once in each building's headcount."""
    spec = motion_spec(motion)
    labels = [*spec.tally_motion().options, ABSTAIN]
    persons = _persons_of_ballots(houses, (b.holder_id for b in ballots))
    choice_of = {persons[b.holder_id]: b.choice for b in ballots if b.holder_id in persons}
    rows = []
    for building in sorted({h.building for h in houses}, key=_natural):
        inside = [h for h in houses if h.building == building]
        area_of: dict[str, int] = {}
        for house in inside:
            area_of[_person(house)] = area_of.get(_person(house), 0) + house.area_centi
        options = {label: [0, 0] for label in labels}
        part_area = part_heads = 0
        for person, area in area_of.items():
            if person not in choice_of:
                continue
            part_area += area
            part_heads += 1
            for key in _option_keys(spec.kind, choice_of[person]):
                options[key][0] += area
                options[key][1] += 1
        rows.append(
            {
                "building": building,
                "totals": {"area_centi": sum(area_of.values()), "headcount": len(area_of)},
                "participation": {"area_centi": part_area, "headcount": part_heads},
                "counts": [
                    {
                        "option": label,
                        "area_centi": options[label][0],
                        "headcount": options[label][1],
                    }
                    for label in labels
                ],
            }
        )
    return rows


def _per_unit(
    houses: Sequence[_House], ballots: Sequence[Ballot], channels: dict[str, str]
) -> list[dict[str, Any]]:
    """House number, area and choice of every unit a counted ballot covers (never a name)."""
    persons = _persons_of_ballots(houses, (b.holder_id for b in ballots))
    by_person = {persons[b.holder_id]: b for b in ballots if b.holder_id in persons}
    rows = []
    for house in sorted(houses, key=lambda h: (_natural(h.building), _natural(h.number))):
        ballot = by_person.get(_person(house))
        if ballot is None:
            continue
        rows.append(
            {
                "building": house.building,
                "number": house.number,
                "area_centi": house.area_centi,
                "choice": choice_value(ballot.choice),
                "channel": channels.get(ballot.holder_id, "electronic"),
            }
        )
    return rows


def _natural(name: str) -> tuple[tuple[int, Any], ...]:
    """Sort key: 2号楼 before 10号楼, 1-201 before 1-1001."""
    return tuple(
        (0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", name)
    )


def results(session: Session, meeting: Meeting) -> dict[str, Any]:
    """The stored result of each motion (decoded), with the breakdown per building and, when
    the rules of procedure publish per unit, the units with their choices (never names).

    Refused (`ResultsRefused`) before the close; `NotFound` if the close recorded nothing.
    """
    if meeting.state not in _AFTER_CLOSE:
        raise ResultsRefused(
            f"meeting {meeting.id} is {meeting.state.value}: voting has not closed"
        )
    stored = {
        row.motion_id: row
        for row in session.scalars(
            select(MotionResult).where(MotionResult.meeting_id == meeting.id)
        )
    }
    if not stored:
        raise NotFound(f"meeting {meeting.id} has no recorded result")
    snapshot = _snapshot(session, meeting)
    per_unit = meeting.rules_result_detail is ResultDetail.per_unit
    motions = []
    for motion in meeting.motions:
        row = stored.get(motion.id)
        if row is None:
            continue
        houses = snapshot.in_scope(motion.scope)
        counted = _counted(session, motion, _scope_voters(houses))
        ballots = counted.ballots()
        item: dict[str, Any] = {
            "motion": motion.id,
            "position": motion.position,
            "title": motion.title,
            "result_sha256": row.result_sha256,
            "log_index": int(row.log_seq),
            "result": json.loads(row.result),
            "buildings": _by_building(motion, houses, ballots),
        }
        if per_unit:
            item["units"] = _per_unit(houses, ballots, counted.channels)
        motions.append(item)
    head = _meeting_head(meeting) | {
        "closed_at": _time(meeting.closed_at),
        "published_at": _time(meeting.published_at),
        "publication_late": meeting.publication_late,
        "annulled_at": _time(meeting.annulled_at),
        "result_detail": (meeting.rules_result_detail or ResultDetail.totals).value,
    }
    return head | {"motions": motions}
