"""Properties of the tally, checked against a deliberately naive Fraction implementation."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, replace
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from voting.domain.errors import (
    DuplicateBallotError,
    DuplicateUnitError,
    InvalidAreaError,
    TallyError,
    UnknownHolderError,
)
from voting.domain.tally import (
    ABSTAIN,
    NO,
    YES,
    Ballot,
    Choice,
    Motion,
    MotionKind,
    Outcome,
    Rule,
    TallyRequest,
    TallyResult,
    UnitShare,
    tally,
)

BUILDINGS = ("1号楼", "2号楼", "3号楼")
HOLDERS = ("A", "B", "C", "D", "E", "F", "G", "DEV")
CANDIDATES = ("甲", "乙", "丙", "丁")
DEVELOPER = "<developer>"

FAST = settings(max_examples=200, deadline=None)


@dataclass(frozen=True)
class Case:
    """A generated tally input."""

    request: TallyRequest
    voters: frozenset[str]  # persons who cast a ballot
    free_holders: tuple[str, ...]  # one holder id for each person in scope who did not vote


# --- the naive reference -------------------------------------------------------------------


@dataclass(frozen=True)
class Naive:
    """What the reference computes, in square metres as Fractions."""

    total_area: Fraction
    total_heads: int
    part_area: Fraction
    part_heads: int
    counts: dict[str, tuple[Fraction, int]]
    quorum: bool
    outcome: Outcome
    winner: str | None
    elected: frozenset[str]
    tied: frozenset[str]


def person_of_unit(unit: UnitShare) -> str:
    return DEVELOPER if unit.developer_held else unit.holder_id


def person_of_ballot(units: list[UnitShare], holder: str) -> str:
    """A holder votes as itself if it holds any unit of its own, else as the developer."""
    return (
        holder if any(u.holder_id == holder and not u.developer_held for u in units) else DEVELOPER
    )


def carries(rule: Rule, yes: tuple[Fraction, int], part_area: Fraction, part_heads: int) -> bool:
    if part_heads == 0:
        return False
    area_share = yes[0] / part_area
    head_share = Fraction(yes[1], part_heads)
    if rule is Rule.SPECIAL:
        return area_share >= Fraction(3, 4) and head_share >= Fraction(3, 4)
    return area_share > Fraction(1, 2) and head_share > Fraction(1, 2)


def naive_tally(request: TallyRequest) -> Naive:
    """The rules read literally: shares as exact fractions, compared with 1/2, 3/4, 2/3."""
    motion = request.motion
    scope = request.buildings
    units = [u for u in request.units if scope is None or u.building in scope]
    weight: dict[str, Fraction] = {}
    for unit in units:
        person = person_of_unit(unit)
        weight[person] = weight.get(person, Fraction(0)) + Fraction(unit.area_centi, 100)
    options = (*motion.options, ABSTAIN)
    counts = {option: (Fraction(0), 0) for option in options}
    part_area, part_heads = Fraction(0), 0
    for ballot in request.ballots:
        w = weight[person_of_ballot(units, ballot.holder_id)]
        part_area += w
        part_heads += 1
        picked = ballot.choice
        if motion.kind is MotionKind.ELECTION:
            chosen = [ABSTAIN] if picked in (ABSTAIN, frozenset()) else sorted(picked)
        else:
            chosen = [str(picked)]
        for option in chosen:
            area, heads = counts[option]
            counts[option] = (area + w, heads + 1)
    total_area = sum(weight.values(), Fraction(0))
    quorum = part_area / total_area >= Fraction(2, 3) and Fraction(
        part_heads, len(weight)
    ) >= Fraction(2, 3)
    carried = [o for o in motion.options if carries(motion.rule, counts[o], part_area, part_heads)]
    winner, elected, tied = None, frozenset[str](), frozenset[str]()
    if not quorum:
        outcome = Outcome.NO_QUORUM
    elif motion.kind is MotionKind.YES_NO:
        outcome = Outcome.PASSED if YES in carried else Outcome.REJECTED
    elif motion.kind is MotionKind.CHOICE:
        outcome = Outcome.PASSED if len(carried) == 1 else Outcome.NO_DECISION
        winner = carried[0] if len(carried) == 1 else None
    else:
        outcome = Outcome.PASSED if carried else Outcome.NO_DECISION
        elected, tied = naive_seats(carried, counts, motion.seats)
    return Naive(
        total_area,
        len(weight),
        part_area,
        part_heads,
        counts,
        quorum,
        outcome,
        winner,
        elected,
        tied,
    )


def naive_seats(
    approved: list[str], counts: dict[str, tuple[Fraction, int]], seats: int
) -> tuple[frozenset[str], frozenset[str]]:
    """Elected: fewer than `seats` rank above or level with them; tied: the boundary group."""
    elected, tied = set(), set()
    for candidate in approved:
        better = sum(1 for other in approved if counts[other] > counts[candidate])
        level = sum(1 for other in approved if counts[other] == counts[candidate])
        if better + level <= seats:
            elected.add(candidate)
        elif better < seats:
            tied.add(candidate)
    return frozenset(elected), frozenset(tied)


def assert_refused_at(request: TallyRequest, expected: type[TallyError], position: int) -> None:
    """The tally refuses `request` with `expected`, naming the item at `position`."""
    with pytest.raises(expected) as caught:
        tally(request)
    assert caught.value.index == position


def assert_agrees(result: TallyResult, naive: Naive) -> None:
    assert Fraction(result.total_area_centi, 100) == naive.total_area
    assert result.total_headcount == naive.total_heads
    assert Fraction(result.participating_area_centi, 100) == naive.part_area
    assert result.participating_headcount == naive.part_heads
    for entry in result.counts:
        assert (Fraction(entry.area_centi, 100), entry.headcount) == naive.counts[entry.option]
    assert result.quorum_met == naive.quorum
    assert result.outcome is naive.outcome
    assert result.winner == naive.winner
    assert frozenset(result.elected) == naive.elected
    assert frozenset(result.tied_for_last_seat) == naive.tied


# --- generated inputs ----------------------------------------------------------------------

# Per case, areas come from one of these: few distinct values make exact boundaries likely.
AREA_SCALES = (st.sampled_from([100, 200, 300]), st.integers(1, 400), st.integers(1, 10**9))


@st.composite
def motions(draw: st.DrawFn) -> Motion:
    rule = draw(st.sampled_from(Rule))
    kind = draw(st.sampled_from(MotionKind))
    if kind is MotionKind.YES_NO:
        return Motion.yes_no(rule)
    count = draw(st.integers(2, len(CANDIDATES)))
    if kind is MotionKind.CHOICE:
        return Motion.choice(CANDIDATES[:count], rule)
    return Motion.election(CANDIDATES[:count], draw(st.integers(1, count - 1)), rule)


def choices_for(motion: Motion) -> st.SearchStrategy[Choice]:
    """Choices biased towards agreement, so that quorums, passes and ties are common."""
    if motion.kind is MotionKind.ELECTION:
        everyone = frozenset(motion.options)
        subsets = st.frozensets(st.sampled_from(motion.options))
        return st.one_of(st.just(ABSTAIN), st.just(everyone), subsets, subsets, subsets)
    first = motion.options[0]
    return st.sampled_from((first, first, *motion.options, ABSTAIN))


@st.composite
def cases(draw: st.DrawFn, motion_strategy: st.SearchStrategy[Motion] | None = None) -> Case:
    areas = draw(st.sampled_from(AREA_SCALES))
    rows = draw(
        st.lists(
            st.tuples(st.sampled_from(BUILDINGS), areas, st.sampled_from(HOLDERS), st.booleans()),
            min_size=1,
            max_size=14,
        )
    )
    units = [
        UnitShare(f"U{i}", building, area, holder, developer_held=dev and holder.startswith("D"))
        for i, (building, area, holder, dev) in enumerate(rows)
    ]
    present = sorted({u.building for u in units})
    scope = draw(st.one_of(st.none(), st.frozensets(st.sampled_from(present), min_size=1)))
    in_scope = [u for u in units if scope is None or u.building in scope]
    # One holder id that reaches each person in scope.
    reach: dict[str, str] = {}
    for unit in in_scope:
        reach.setdefault(person_of_ballot(in_scope, unit.holder_id), unit.holder_id)
    motion = draw(motions() if motion_strategy is None else motion_strategy)
    persons = sorted(reach)
    voters = frozenset(p for p in persons if draw(st.integers(0, 5)) > 0)
    ballots = [Ballot(reach[p], draw(choices_for(motion))) for p in persons if p in voters]
    ballots = draw(st.permutations(ballots))
    free = tuple(reach[p] for p in persons if p not in voters)
    return Case(TallyRequest(motion, units, ballots, scope), voters, free)


# --- properties ----------------------------------------------------------------------------


@FAST
@given(cases())
def test_tally_properties_agree_with_naive_fractions(case: Case) -> None:
    assert_agrees(tally(case.request), naive_tally(case.request))


@FAST
@given(cases(), st.randoms(use_true_random=False))
def test_tally_properties_row_order_never_matters(case: Case, rng: random.Random) -> None:
    request = case.request
    units, ballots = list(request.units), list(request.ballots)
    rng.shuffle(units)
    rng.shuffle(ballots)
    shuffled = replace(request, units=units, ballots=ballots)
    assert tally(shuffled) == tally(request)


@FAST
@given(cases(st.builds(Motion.yes_no, st.sampled_from(Rule))), st.data())
def test_tally_properties_extra_yes_never_undoes_passed(case: Case, data: st.DataObject) -> None:
    before = tally(case.request)
    if not before.passed or not case.free_holders:
        return
    holder = data.draw(st.sampled_from(case.free_holders))
    request = case.request
    more = replace(request, ballots=[*request.ballots, Ballot(holder, YES)])
    assert tally(more).outcome is Outcome.PASSED


@FAST
@given(cases(st.builds(Motion.yes_no, st.sampled_from(Rule))))
def test_tally_properties_yes_no_abstain_partition_participation(case: Case) -> None:
    result = tally(case.request)
    entries = [result.count(option) for option in (YES, NO, ABSTAIN)]
    assert sum(e.area_centi for e in entries) == result.participating_area_centi
    assert sum(e.headcount for e in entries) == result.participating_headcount == len(case.voters)
    in_scope = [
        u
        for u in case.request.units
        if case.request.buildings is None or u.building in case.request.buildings
    ]
    assert result.total_area_centi == sum(u.area_centi for u in in_scope)
    assert result.total_headcount == len(Counter(person_of_unit(u) for u in in_scope))


@FAST
@given(st.lists(st.integers(1, 10**7), min_size=2, max_size=5))
def test_tally_properties_exact_thresholds_are_decided_exactly(areas: list[int]) -> None:
    """Yes exactly 1/2, 3/4 and participation exactly 2/3, then one hundredth either side.

    Each yes holder holds one unit of `areas`; the no holder and the absent holder each hold
    a copy of all of them, so the totals meet the thresholds exactly whatever the values.
    """

    def units_for(yes: list[int], no: list[int], absent: list[int]) -> list[UnitShare]:
        groups = [(f"Y{i}", [area]) for i, area in enumerate(yes)]
        groups += [("N", no), ("Z", absent)]
        return [
            UnitShare(f"{holder}-{j}", "1号楼", area, holder)
            for holder, held in groups
            for j, area in enumerate(held)
        ]

    def outcome(units: list[UnitShare], rule: Rule) -> Outcome:
        holders = sorted({u.holder_id for u in units} - {"Z"})
        ballots = [Ballot(h, NO if h == "N" else YES) for h in holders]
        request = TallyRequest(Motion.yes_no(rule), units, ballots)
        result = tally(request)
        assert_agrees(result, naive_tally(request))
        return result.outcome

    bumped = [areas[0] + 1, *areas[1:]]
    # Ordinary: yes area = no area (exactly half); participation = 2/3 of the area.
    assert outcome(units_for(areas, areas, areas), Rule.ORDINARY) is Outcome.REJECTED
    assert outcome(units_for(bumped, areas, areas), Rule.ORDINARY) is Outcome.PASSED
    assert outcome(units_for(bumped, areas, bumped), Rule.ORDINARY) is Outcome.NO_QUORUM
    # Special: yes area = 3 × no area (exactly 3/4); participation exactly 2/3 again.
    tripled, doubled = areas * 3, areas * 2
    assert outcome(units_for(tripled, areas, doubled), Rule.SPECIAL) is Outcome.PASSED
    if areas[0] > 1:
        trimmed = [areas[0] - 1, *tripled[1:]]
        assert outcome(units_for(trimmed, areas, doubled[1:]), Rule.SPECIAL) is Outcome.REJECTED


@FAST
@given(cases(), st.data())
def test_tally_properties_first_faulty_ballot_is_named(case: Case, data: st.DataObject) -> None:
    """A stranger's ballot or a second ballot, inserted anywhere, is reported where it is."""
    request = case.request
    ballots = list(request.ballots)
    position = data.draw(st.integers(0, len(ballots)))
    duplicate = data.draw(st.booleans())
    if ballots and duplicate:
        original = data.draw(st.integers(0, len(ballots) - 1))
        position = max(position, original + 1)
        ballots.insert(position, ballots[original])
        expected: type[TallyError] = DuplicateBallotError
    else:
        ballots.insert(position, Ballot("STRANGER", ABSTAIN))
        expected = UnknownHolderError
    assert_refused_at(replace(request, ballots=ballots), expected, position)


@FAST
@given(cases(), st.data())
def test_tally_properties_first_faulty_unit_is_named(case: Case, data: st.DataObject) -> None:
    request = case.request
    units = list(request.units)
    position = data.draw(st.integers(1, len(units)))
    if data.draw(st.booleans()):
        twin = units[data.draw(st.integers(0, position - 1))]
        units.insert(position, UnitShare(twin.unit_id, "1号楼", 100, "A"))
        expected: type[TallyError] = DuplicateUnitError
    else:
        units.insert(position, UnitShare("BAD", "1号楼", data.draw(st.integers(-5, 0)), "A"))
        expected = InvalidAreaError
    assert_refused_at(replace(request, units=units), expected, position)
