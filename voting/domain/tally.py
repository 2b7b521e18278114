"""The legal tally of one motion (Civil Code art. 278; see shared RULES.md and docs/TALLY.md).

One engine serves every caller (the web results, the recount command, the offline
verifier), so that a published result and its recount cannot disagree. It is pure: plain
frozen dataclasses in, a plain result out, no I/O.

Exactness: areas are integer hundredths of a square metre and every threshold is compared
by cross-multiplication of integers, so "以上" (≥) and "过半数" (>) are decided exactly; no
float ever enters the computation.

Headcount: a person is a vote holder in scope. The caller gives every unit the holder id of
whoever holds its vote, so a buyer of several units and co-owners of a unit (who name one
of them) are one person because they share one holder id. All units the developer has not
sold, or sold but not delivered, are one person: give them the same holder id, or flag them
`developer_held=True`, in which case they are merged into one person whatever holder ids they
carry. A ballot whose holder id is carried by developer-held units (and by no other unit in
scope) is the developer's one ballot; a holder id that also holds units of its own votes for
those units, as itself.

Performance: one pass over the units and one over the ballots, each mostly in C (map,
compress, Counter) over dicts keyed by holder id and by choice; a fault found by a fast
check is then located by walking the input one item at a time. A 1,000,000-unit roll with
800,000 ballots is tallied in about two seconds in CPython (bench/bench_tally.py).
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from itertools import compress, repeat
from operator import attrgetter, not_

from voting.domain.errors import (
    DuplicateBallotError,
    DuplicateUnitError,
    EmptyScopeError,
    HolderOutOfScopeError,
    InvalidAreaError,
    TallyError,
    UnknownBuildingError,
    UnknownChoiceError,
    UnknownHolderError,
)

__all__ = [
    "ABSTAIN",
    "NO",
    "YES",
    "Ballot",
    "Choice",
    "Motion",
    "MotionKind",
    "OptionCount",
    "Outcome",
    "Rule",
    "TallyRequest",
    "TallyResult",
    "UnitShare",
    "majority_met",
    "quorum_met",
    "rule_for_matter",
    "tally",
]

YES = "yes"
NO = "no"
ABSTAIN = "abstain"

# Matters (6)-(8) of Civil Code art. 278 need the special majority; (1)-(5) and (9) do not.
_SPECIAL_MATTERS = frozenset({6, 7, 8})
_MATTERS = range(1, 10)


class Rule(enum.Enum):
    """The majority a motion needs among those who took part in the vote."""

    ORDINARY = "ordinary"  # more than 1/2 of participating area and headcount (过半数)
    SPECIAL = "special"  # at least 3/4 of participating area and headcount (四分之三以上)


class MotionKind(enum.Enum):
    """What a ballot may say."""

    YES_NO = "yes_no"  # yes, no or abstain
    CHOICE = "choice"  # one of several options, or abstain
    ELECTION = "election"  # any subset of the candidates (the empty set abstains)


class Outcome(enum.Enum):
    """The legal result of a motion."""

    NO_QUORUM = "no_quorum"  # fewer than 2/3 of the area or of the headcount took part
    PASSED = "passed"  # the motion (or one option, or at least one candidate) carried
    REJECTED = "rejected"  # yes/no motion: quorum met, majority not reached
    NO_DECISION = "no_decision"  # choice/election: no option or candidate carried


def rule_for_matter(matter: int) -> Rule:
    """Return the majority rule for a matter numbered (1)-(9) as in Civil Code art. 278.

    The admin picks the matter, never the rule, so a motion cannot be put to a lower
    threshold than the law sets for its subject.
    """
    if isinstance(matter, bool) or not isinstance(matter, int) or matter not in _MATTERS:
        raise ValueError(
            f"matter must be an integer from 1 to 9 (Civil Code art. 278), got {matter!r}"
        )
    return Rule.SPECIAL if matter in _SPECIAL_MATTERS else Rule.ORDINARY


def quorum_met(
    participating_area: int, participating_headcount: int, total_area: int, total_headcount: int
) -> bool:
    """Participation ≥ 2/3 of the total area and ≥ 2/3 of the total headcount ("以上")."""
    return (
        participating_area * 3 >= total_area * 2
        and participating_headcount * 3 >= total_headcount * 2
    )


def majority_met(
    rule: Rule,
    yes_area: int,
    yes_headcount: int,
    participating_area: int,
    participating_headcount: int,
) -> bool:
    """True if the yes side meets `rule` in area and in headcount among participants.

    Nobody taking part never carries anything (3/4 of nothing would otherwise be "met").
    """
    if participating_headcount <= 0:
        return False
    if rule is Rule.SPECIAL:
        return (
            yes_area * 4 >= participating_area * 3
            and yes_headcount * 4 >= participating_headcount * 3
        )
    return yes_area * 2 > participating_area and yes_headcount * 2 > participating_headcount


@dataclass(frozen=True, slots=True)
class UnitShare:
    """One exclusive unit as the tally sees it.

    `area_centi` is the area in hundredths of a square metre (see `voting.domain.area`);
    `holder_id` names whoever holds the unit's vote (one id per person); `developer_held`
    marks a unit the developer has not sold or not delivered (all such units are one person).
    """

    unit_id: str
    building: str
    area_centi: int
    holder_id: str
    developer_held: bool = False


Choice = str | frozenset[str]
"""A ballot's content: an option name or "abstain"; for elections a set of candidates."""


@dataclass(frozen=True, slots=True)
class Ballot:
    """The one counted ballot of a vote holder; it covers all the holder's units in scope."""

    holder_id: str
    choice: Choice


@dataclass(frozen=True, slots=True)
class Motion:
    """What is put to the vote: its kind, its rule, and its options or candidates.

    Build one with `Motion.yes_no`, `Motion.choice` or `Motion.election`.
    """

    kind: MotionKind
    rule: Rule
    options: tuple[str, ...] = (YES, NO)
    seats: int = 0

    def __post_init__(self) -> None:
        """Refuse motions the tally could not decide unambiguously."""
        if len(set(self.options)) != len(self.options):
            raise ValueError(f"options must be distinct, got {self.options!r}")
        if any(not option or option == ABSTAIN for option in self.options):
            raise ValueError(f"options must be non-empty and not {ABSTAIN!r}")
        if self.kind is MotionKind.YES_NO and self.options != (YES, NO):
            raise ValueError(f"a yes/no motion has the options ({YES!r}, {NO!r})")
        if self.kind is MotionKind.CHOICE and len(self.options) < 2:
            raise ValueError("a choice motion needs at least two options")
        if self.kind is MotionKind.ELECTION:
            if not self.options:
                raise ValueError("an election needs at least one candidate")
            if self.seats < 1:
                raise ValueError(f"an election needs at least one seat, got {self.seats}")
        elif self.seats:
            raise ValueError("only an election has seats")

    @classmethod
    def yes_no(cls, rule: Rule) -> Motion:
        """A motion answered yes, no or abstain."""
        return cls(MotionKind.YES_NO, rule)

    @classmethod
    def choice(cls, options: Sequence[str], rule: Rule) -> Motion:
        """A choice among several options; a ballot picks one option or abstains."""
        return cls(MotionKind.CHOICE, rule, tuple(options))

    @classmethod
    def election(cls, candidates: Sequence[str], seats: int, rule: Rule = Rule.ORDINARY) -> Motion:
        """A committee election (matter (3): ordinary majority) for `seats` seats."""
        return cls(MotionKind.ELECTION, rule, tuple(candidates), seats)


@dataclass(frozen=True, slots=True)
class TallyRequest:
    """A motion with its roll and ballots.

    `units` is the whole roll (units outside the scope are ignored, but their holders are
    known); `buildings` is the motion's scope, None for all buildings. Positions in `units`
    and `ballots` are reported back in errors (`TallyError.index`).
    """

    motion: Motion
    units: Sequence[UnitShare]
    ballots: Sequence[Ballot]
    buildings: frozenset[str] | None = None


@dataclass(frozen=True, slots=True)
class OptionCount:
    """Area (hundredths of m²) and headcount of the ballots for one option or candidate."""

    option: str
    area_centi: int
    headcount: int


@dataclass(frozen=True, slots=True)
class TallyResult:
    """Totals, counts and the outcome of one motion.

    `counts` has one entry per option (or candidate, counting approvals) in the motion's
    order, then one for "abstain". `winner` is the sole winning option of a choice motion.
    `approved` lists the candidates meeting the rule, `elected` those who take a seat, and
    `tied_for_last_seat` the candidates tied on area and headcount for the last seat(s),
    which the tally never breaks: `motion.seats - len(elected)` seats stay open for them.
    """

    motion: Motion
    total_area_centi: int
    total_headcount: int
    participating_area_centi: int
    participating_headcount: int
    counts: tuple[OptionCount, ...]
    quorum_met: bool
    outcome: Outcome
    winner: str | None = None
    approved: tuple[str, ...] = ()
    elected: tuple[str, ...] = ()
    tied_for_last_seat: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        """True if the outcome is `passed`."""
        return self.outcome is Outcome.PASSED

    def count(self, option: str) -> OptionCount:
        """The count for one option, candidate or "abstain"."""
        for entry in self.counts:
            if entry.option == option:
                return entry
        raise KeyError(option)


@dataclass(frozen=True, slots=True)
class _Roll:
    """The roll reduced to the scope: area per person, the developer apart."""

    area_by_holder: dict[str, int]  # every non-developer holder in scope
    developer_ids: frozenset[str]  # holder ids carried by developer-held units in scope
    developer_area: int

    @property
    def total_area(self) -> int:
        return sum(self.area_by_holder.values()) + self.developer_area

    @property
    def total_headcount(self) -> int:
        return len(self.area_by_holder) + (1 if self.developer_ids else 0)


def tally(request: TallyRequest) -> TallyResult:
    """Count the ballots of `request` and decide the motion.

    Raises a `TallyError` subclass for any input it cannot count exactly: a bad area, a
    duplicate unit, an unknown building or empty scope, a ballot from an unknown holder or
    one with no unit in scope, a second ballot of one person, or an unknown choice.
    """
    motion = request.motion
    roll = _reduce_roll(request.units, request.buildings)
    areas, heads = _count_ballots(roll, request.ballots, request.units, _Validator(motion))
    total_area = roll.total_area
    total_heads = roll.total_headcount
    part_area = sum(areas.values())
    part_heads = sum(heads.values())
    counts = _option_counts(motion, areas, heads)
    quorum = quorum_met(part_area, part_heads, total_area, total_heads)
    result = TallyResult(
        motion=motion,
        total_area_centi=total_area,
        total_headcount=total_heads,
        participating_area_centi=part_area,
        participating_headcount=part_heads,
        counts=counts,
        quorum_met=quorum,
        outcome=Outcome.NO_QUORUM,
    )
    if not quorum:
        return result
    carried = tuple(
        entry
        for entry in counts[:-1]  # the last entry is "abstain"
        if majority_met(motion.rule, entry.area_centi, entry.headcount, part_area, part_heads)
    )
    return _decide(result, carried)


# Field readers for the C-level passes below (map/compress instead of Python loops).
_UNIT_ID = attrgetter("unit_id")
_BUILDING = attrgetter("building")
_AREA = attrgetter("area_centi")
_HOLDER = attrgetter("holder_id")
_DEVELOPER_HELD = attrgetter("developer_held")
_CHOICE = attrgetter("choice")


def _reduce_roll(units: Sequence[UnitShare], buildings: frozenset[str] | None) -> _Roll:
    """Validate every unit, then sum the area of each person in scope.

    Validation and scoping run as C-level passes (map, set, compress); only the sum per
    holder is a Python loop.
    """
    if buildings is not None and not buildings:
        raise EmptyScopeError()
    _check_units(units)
    if buildings is not None:
        inside = list(map(buildings.__contains__, map(_BUILDING, units)))
        found = buildings.intersection(compress(map(_BUILDING, units), inside))
        for building in sorted(buildings - found):
            raise UnknownBuildingError(building)
        units = list(compress(units, inside))
    if not units:
        raise EmptyScopeError()
    developer_ids: frozenset[str] = frozenset()
    developer_area = 0
    flags = list(map(_DEVELOPER_HELD, units))
    if any(flags):
        developer_units = list(compress(units, flags))
        developer_ids = frozenset(map(_HOLDER, developer_units))
        developer_area = sum(map(_AREA, developer_units))
        units = list(compress(units, map(not_, flags)))
    area_by_holder: dict[str, int] = {}
    get = area_by_holder.get
    for holder, area in zip(map(_HOLDER, units), map(_AREA, units), strict=True):
        area_by_holder[holder] = get(holder, 0) + area
    return _Roll(area_by_holder, developer_ids, developer_area)


def _check_units(units: Sequence[UnitShare]) -> None:
    """Refuse a non-positive or non-int area and a unit listed twice.

    Both checks run in C over the whole roll; only if one fails are the units walked one
    by one, so that the first faulty unit is the one named.
    """
    areas = list(map(_AREA, units))
    unit_ids = list(map(_UNIT_ID, units))
    areas_ok = not areas or (set(map(type, areas)) == {int} and min(areas) > 0)
    if areas_ok and len(set(unit_ids)) == len(unit_ids):
        return
    first_position: dict[str, int] = {}
    for index, (unit_id, area) in enumerate(zip(unit_ids, areas, strict=True)):
        if type(area) is not int or area <= 0:
            raise InvalidAreaError(unit_id, area, index=index)
        first = first_position.setdefault(unit_id, index)
        if first != index:
            raise DuplicateUnitError(unit_id, index=index, first_index=first)
    raise AssertionError("_check_units found no faulty unit")


def _count_ballots(
    roll: _Roll,
    ballots: Sequence[Ballot],
    units: Sequence[UnitShare],
    is_valid: _Validator,
) -> tuple[dict[Choice, int], dict[Choice, int]]:
    """Area and headcount per distinct choice.

    Each ballot takes its person's weight out of a copy of the roll, so a second ballot of
    the same person finds nothing, like a stranger's: one C-level pass finds both. Any
    fault sends the ballots through `_first_ballot_error`, which names the first one.
    """
    weights = dict(roll.area_by_holder)
    developer_only = roll.developer_ids.difference(weights)  # ids voting as the developer
    for holder in developer_only:
        weights[holder] = roll.developer_area
    areas = list(map(weights.pop, map(_HOLDER, ballots), repeat(0)))  # weights are > 0
    choices = list(map(_CHOICE, ballots))
    heads: dict[Choice, int] = Counter(choices)
    developer_ballots = len(developer_only) - len(developer_only.intersection(weights))
    if 0 in areas or developer_ballots > 1 or not all(map(is_valid, heads)):
        raise _first_ballot_error(roll, ballots, units, is_valid)
    area_by_choice = dict.fromkeys(heads, 0)
    for choice, area in zip(choices, areas, strict=True):
        area_by_choice[choice] += area
    return area_by_choice, dict(heads)


def _first_ballot_error(
    roll: _Roll, ballots: Sequence[Ballot], units: Sequence[UnitShare], is_valid: _Validator
) -> TallyError:
    """The fault of the first bad ballot, found ballot by ballot (error path only)."""
    developer_first = -1
    first_ballot: dict[str, int] = {}
    for index, ballot in enumerate(ballots):
        holder = ballot.holder_id
        if holder in roll.area_by_holder:
            first = first_ballot.setdefault(holder, index)
            if first != index:
                return DuplicateBallotError(holder, index=index, first_index=first)
        elif holder in roll.developer_ids:
            if developer_first >= 0:
                return DuplicateBallotError(holder, index=index, first_index=developer_first)
            developer_first = index
        else:
            return _stranger(holder, index, units)
        if not is_valid(ballot.choice):
            return UnknownChoiceError(ballot.choice, index=index, expected=is_valid.expected())
    raise AssertionError("_first_ballot_error called on valid ballots")


def _stranger(holder: str, index: int, units: Sequence[UnitShare]) -> TallyError:
    """The error for a ballot whose holder has no unit in scope (error path only)."""
    if any(unit.holder_id == holder for unit in units):
        return HolderOutOfScopeError(holder, index=index)
    return UnknownHolderError(holder, index=index)


class _Validator:
    """Tells whether a choice is one the motion offers; knows how to describe them."""

    def __init__(self, motion: Motion) -> None:
        self.motion = motion
        self.options = frozenset(motion.options)

    def __call__(self, choice: Choice) -> bool:
        if choice == ABSTAIN:
            return True
        if self.motion.kind is MotionKind.ELECTION:
            return isinstance(choice, frozenset) and choice <= self.options
        return isinstance(choice, str) and choice in self.options

    def expected(self) -> tuple[str, ...]:
        if self.motion.kind is MotionKind.ELECTION:
            return (ABSTAIN, "a set of candidates among " + ", ".join(self.motion.options))
        return (*self.motion.options, ABSTAIN)


def _option_counts(
    motion: Motion, areas: dict[Choice, int], heads: dict[Choice, int]
) -> tuple[OptionCount, ...]:
    """Counts per option (approvals per candidate in an election), then "abstain"."""
    if motion.kind is not MotionKind.ELECTION:
        return tuple(
            OptionCount(option, areas.get(option, 0), heads.get(option, 0))
            for option in (*motion.options, ABSTAIN)
        )
    option_area = dict.fromkeys(motion.options, 0)
    option_heads = dict.fromkeys(motion.options, 0)
    abstain_area = abstain_heads = 0
    for choice, area in areas.items():
        if not choice or choice == ABSTAIN:  # approving nobody is abstaining
            abstain_area += area
            abstain_heads += heads[choice]
            continue
        for candidate in choice:
            option_area[candidate] += area
            option_heads[candidate] += heads[choice]
    return (
        *(OptionCount(c, option_area[c], option_heads[c]) for c in motion.options),
        OptionCount(ABSTAIN, abstain_area, abstain_heads),
    )


def _decide(result: TallyResult, carried: tuple[OptionCount, ...]) -> TallyResult:
    """Turn the options that met the rule into the outcome, given the quorum was met."""
    motion = result.motion
    if motion.kind is MotionKind.YES_NO:
        passed = any(entry.option == YES for entry in carried)
        return replace(result, outcome=Outcome.PASSED if passed else Outcome.REJECTED)
    if motion.kind is MotionKind.CHOICE:
        if len(carried) == 1:
            return replace(result, outcome=Outcome.PASSED, winner=carried[0].option)
        return replace(result, outcome=Outcome.NO_DECISION)
    ranked = sorted(carried, key=lambda entry: (-entry.area_centi, -entry.headcount))
    elected, tied = _allocate_seats(ranked, motion.seats)
    return replace(
        result,
        outcome=Outcome.PASSED if ranked else Outcome.NO_DECISION,
        approved=tuple(entry.option for entry in carried),
        elected=elected,
        tied_for_last_seat=tied,
    )


def _allocate_seats(
    ranked: list[OptionCount], seats: int
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Seats by yes-area, then yes-headcount; a tie across the last seat is reported."""
    if len(ranked) <= seats:
        return tuple(entry.option for entry in ranked), ()
    last = (ranked[seats - 1].area_centi, ranked[seats - 1].headcount)
    if (ranked[seats].area_centi, ranked[seats].headcount) != last:
        return tuple(entry.option for entry in ranked[:seats]), ()
    elected = tuple(e.option for e in ranked if (e.area_centi, e.headcount) > last)
    tied = tuple(e.option for e in ranked if (e.area_centi, e.headcount) == last)
    return elected, tied
