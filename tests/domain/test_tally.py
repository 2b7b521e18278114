"""The tally engine, boundary by boundary (RULES.md: "以上" is ≥, "过半数" is >)."""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from voting.domain.area import parse_area
from voting.domain.errors import (
    DuplicateBallotError,
    DuplicateUnitError,
    EmptyScopeError,
    HolderOutOfScopeError,
    InvalidAreaError,
    UnknownBuildingError,
    UnknownChoiceError,
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
    majority_met,
    quorum_met,
    rule_for_matter,
    tally,
)

ORDINARY = Motion.yes_no(Rule.ORDINARY)
SPECIAL = Motion.yes_no(Rule.SPECIAL)


def roll(*rows: tuple[str, str], building: str = "1号楼") -> list[UnitShare]:
    """Units from (holder, area text) pairs, one unit per pair, numbered in order."""
    return [
        UnitShare(f"U{i}", building, parse_area(area), holder)
        for i, (holder, area) in enumerate(rows, start=1)
    ]


def run(
    units: list[UnitShare],
    votes: Iterable[tuple[str, Choice]],
    motion: Motion = ORDINARY,
    buildings: Iterable[str] | None = None,
) -> TallyResult:
    """Tally `votes` given as (holder, choice) pairs."""
    scope = None if buildings is None else frozenset(buildings)
    ballots = [Ballot(holder, choice) for holder, choice in votes]
    return tally(TallyRequest(motion, units, ballots, scope))


def all_vote(units: list[UnitShare], choices: dict[str, Choice]) -> list[tuple[str, Choice]]:
    """Every holder of `units` votes, with the choice given or else yes."""
    holders = dict.fromkeys(unit.holder_id for unit in units)
    return [(holder, choices.get(holder, YES)) for holder in holders]


# --- quorum: ≥ 2/3 of the area AND ≥ 2/3 of the headcount --------------------------------


def test_tally_quorum_area_exactly_two_thirds_is_met() -> None:
    units = roll(("A", "100.00"), ("B", "100.00"), ("C", "0.50"), ("D", "0.50"), ("E", "100.50"))
    result = run(units, [(h, YES) for h in "ABCD"])
    assert result.participating_area_centi * 3 == result.total_area_centi * 2
    assert result.quorum_met
    assert result.outcome is Outcome.PASSED


def test_tally_quorum_area_one_cent_short_is_not_met() -> None:
    units = roll(("A", "100.00"), ("B", "100.00"), ("C", "0.50"), ("D", "0.49"), ("E", "100.51"))
    result = run(units, [(h, YES) for h in "ABCD"])
    assert result.participating_headcount * 3 >= result.total_headcount * 2
    assert not result.quorum_met
    assert result.outcome is Outcome.NO_QUORUM


def test_tally_quorum_headcount_exactly_two_thirds_is_met() -> None:
    units = roll(("A", "500"), ("B", "500"), ("C", "500"), ("D", "500"), ("E", "1"), ("F", "1"))
    result = run(units, [(h, YES) for h in "ABCD"])
    assert (result.participating_headcount, result.total_headcount) == (4, 6)
    assert result.quorum_met


def test_tally_quorum_headcount_one_person_short_is_not_met() -> None:
    units = roll(("A", "900"), ("B", "500"), ("C", "500"), ("D", "1"), ("E", "1"), ("F", "1"))
    result = run(units, [(h, YES) for h in "ABC"])
    assert result.participating_area_centi * 3 >= result.total_area_centi * 2
    assert (result.participating_headcount, result.total_headcount) == (3, 6)
    assert not result.quorum_met
    assert result.outcome is Outcome.NO_QUORUM


# --- ordinary majority: > 1/2 of participating area AND headcount --------------------------


def test_tally_ordinary_yes_area_exactly_half_is_rejected() -> None:
    units = roll(("A", "100.00"), ("B", "0.50"), ("C", "0.50"), ("D", "101.00"))
    result = run(units, all_vote(units, {"D": NO}))
    assert result.count(YES).area_centi * 2 == result.participating_area_centi
    assert result.outcome is Outcome.REJECTED


def test_tally_ordinary_yes_area_one_cent_over_half_passes() -> None:
    units = roll(("A", "100.00"), ("B", "0.50"), ("C", "0.50"), ("D", "100.99"))
    result = run(units, all_vote(units, {"D": NO}))
    assert result.outcome is Outcome.PASSED


def test_tally_ordinary_yes_headcount_exactly_half_is_rejected() -> None:
    units = roll(("A", "500"), ("B", "500"), ("C", "1"), ("D", "1"))
    result = run(units, all_vote(units, {"C": NO, "D": NO}))
    assert (result.count(YES).headcount, result.participating_headcount) == (2, 4)
    assert result.outcome is Outcome.REJECTED


def test_tally_ordinary_yes_headcount_over_half_passes() -> None:
    units = roll(("A", "500"), ("B", "500"), ("C", "1"), ("D", "1"), ("E", "1"))
    result = run(units, all_vote(units, {"D": NO, "E": NO}))
    assert result.outcome is Outcome.PASSED


# --- special majority: ≥ 3/4 of participating area AND headcount ---------------------------


def test_tally_special_yes_exactly_three_quarters_passes() -> None:
    units = roll(("A", "100.00"), ("B", "100.00"), ("C", "100.00"), ("D", "100.00"))
    result = run(units, all_vote(units, {"D": NO}), SPECIAL)
    assert result.count(YES).area_centi * 4 == result.participating_area_centi * 3
    assert result.count(YES).headcount * 4 == result.participating_headcount * 3
    assert result.outcome is Outcome.PASSED


def test_tally_special_yes_area_one_cent_short_is_rejected() -> None:
    units = roll(("A", "100.00"), ("B", "100.00"), ("C", "99.99"), ("D", "100.01"))
    result = run(units, all_vote(units, {"D": NO}), SPECIAL)
    assert result.count(YES).headcount * 4 == result.participating_headcount * 3
    assert result.outcome is Outcome.REJECTED


def test_tally_special_yes_headcount_one_person_short_is_rejected() -> None:
    units = roll(*((h, "100") for h in "ABCDEFG"), ("H", "1"), ("I", "1"), ("J", "1"))
    result = run(units, all_vote(units, {"H": NO, "I": NO, "J": NO}), SPECIAL)
    assert (result.count(YES).headcount, result.participating_headcount) == (7, 10)
    assert result.count(YES).area_centi * 4 >= result.participating_area_centi * 3
    assert result.outcome is Outcome.REJECTED


def test_tally_special_rule_on_ordinary_margin_is_rejected() -> None:
    units = roll(("A", "100"), ("B", "100"), ("C", "100"))
    assert run(units, all_vote(units, {"C": NO})).outcome is Outcome.PASSED
    assert run(units, all_vote(units, {"C": NO}), SPECIAL).outcome is Outcome.REJECTED


# --- abstentions ---------------------------------------------------------------------------


def test_tally_abstentions_count_in_the_denominator() -> None:
    units = roll(("A", "30"), ("B", "20"), ("C", "10"), ("D", "30"), ("E", "30"))
    result = run(units, all_vote(units, {"D": NO, "E": ABSTAIN}))
    assert result.participating_area_centi == 120_00
    assert result.count(ABSTAIN).area_centi == 30_00
    assert result.count(YES).area_centi == 60_00  # 60/120 is not more than half
    assert result.outcome is Outcome.REJECTED
    without_abstainer = [(h, c) for h, c in all_vote(units, {"D": NO}) if h != "E"]
    assert run(units, without_abstainer).count(YES).area_centi * 2 > 90_00


def test_tally_abstention_is_participation_for_the_quorum() -> None:
    units = roll(("A", "10"), ("B", "10"), ("C", "10"))
    result = run(units, [("A", YES), ("B", ABSTAIN)])
    assert result.quorum_met
    assert result.outcome is Outcome.REJECTED  # 1 of 2 heads is not more than half


# --- headcount: one person per holder, the developer one person -----------------------------


def test_tally_multi_unit_holder_counts_once() -> None:
    units = roll(("A", "10"), ("A", "20"), ("A", "30"), ("B", "40"))
    result = run(units, [("A", YES)])
    assert result.total_headcount == 2
    assert result.total_area_centi == 100_00
    assert result.count(YES).area_centi == 60_00
    assert result.count(YES).headcount == 1


def test_tally_developer_units_under_one_holder_id_count_once() -> None:
    units = roll(("DEV", "50"), ("DEV", "50"), ("DEV", "50"), ("A", "10"), ("B", "10"))
    result = run(units, [("DEV", YES), ("A", YES)])
    assert result.total_headcount == 3
    assert result.count(YES).area_centi == 160_00


# Two unsold units recorded under different holder ids, both flagged as the developer's.
DEVELOPER_UNITS = [
    UnitShare("D1", "1号楼", 50_00, "DEV-1", developer_held=True),
    UnitShare("D2", "1号楼", 50_00, "DEV-2", developer_held=True),
]


def test_tally_developer_flag_merges_holder_ids_into_one_person() -> None:
    units = [
        *DEVELOPER_UNITS,
        UnitShare("U3", "1号楼", 10_00, "A"),
        UnitShare("U4", "1号楼", 10_00, "B"),
    ]
    result = run(units, [("DEV-2", NO), ("A", YES)])
    assert result.total_headcount == 3
    assert result.count(NO).area_centi == 100_00
    assert result.count(NO).headcount == 1


def test_tally_developer_second_ballot_under_another_id_is_refused() -> None:
    with pytest.raises(DuplicateBallotError) as caught:
        run(DEVELOPER_UNITS, [("DEV-1", YES), ("DEV-2", NO)])
    assert (caught.value.index, caught.value.first_index) == (1, 0)


def test_tally_buyer_of_undelivered_unit_votes_for_own_units_only() -> None:
    units = [
        UnitShare("U1", "1号楼", 50_00, "B", developer_held=True),  # sold, not delivered
        UnitShare("U2", "1号楼", 30_00, "B"),
        UnitShare("U3", "1号楼", 40_00, "DEV", developer_held=True),
    ]
    result = run(units, [("B", YES), ("DEV", NO)])
    assert result.total_headcount == 2
    assert result.count(YES).area_centi == 30_00
    assert result.count(NO).area_centi == 90_00


# --- scope ---------------------------------------------------------------------------------


def test_tally_scope_counts_only_units_inside() -> None:
    units = [
        UnitShare("U1", "1号楼", 70_00, "A"),
        UnitShare("U2", "2号楼", 900_00, "A"),  # outside: neither A's weight nor the total
        UnitShare("U3", "1号楼", 30_00, "B"),
        UnitShare("U4", "2号楼", 500_00, "C"),
        UnitShare("U5", "1号楼", 10_00, "D"),
    ]
    result = run(units, [("A", YES), ("B", NO), ("D", YES)], buildings={"1号楼"})
    assert (result.total_area_centi, result.total_headcount) == (110_00, 3)
    assert result.count(YES).area_centi == 80_00
    assert result.outcome is Outcome.PASSED


def test_tally_scope_ballot_from_holder_outside_is_refused() -> None:
    units = [UnitShare("U1", "1号楼", 70_00, "A"), UnitShare("U2", "2号楼", 30_00, "C")]
    with pytest.raises(HolderOutOfScopeError) as caught:
        run(units, [("A", YES), ("C", YES)], buildings={"1号楼"})
    assert caught.value.index == 1
    assert caught.value.holder_id == "C"


def test_tally_scope_several_buildings() -> None:
    units = [
        UnitShare("U1", "1号楼", 10_00, "A"),
        UnitShare("U2", "2号楼", 20_00, "B"),
        UnitShare("U3", "3号楼", 40_00, "C"),
    ]
    result = run(units, [("A", YES), ("B", YES)], buildings={"1号楼", "2号楼"})
    assert (result.total_area_centi, result.total_headcount) == (30_00, 2)


def test_tally_scope_unknown_building_is_refused() -> None:
    with pytest.raises(UnknownBuildingError) as caught:
        run(roll(("A", "1")), [], buildings={"1号楼", "9号楼"})
    assert caught.value.building == "9号楼"


def test_tally_scope_empty_is_refused() -> None:
    with pytest.raises(EmptyScopeError):
        run(roll(("A", "1")), [], buildings=set())
    with pytest.raises(EmptyScopeError):
        run([], [])


# --- exactness -----------------------------------------------------------------------------


def test_tally_float_sum_would_misjudge_the_half() -> None:
    # Yes: 0.1 + 1.3 m² (two holders); no: 0.7 + 0.7 m² (one holder of two units).
    # Exactly half the area is yes, so the ordinary majority fails; float sums say it passes.
    yes_float = 0.1 + 1.3
    no_float = 0.7 + 0.7
    assert yes_float * 2 > yes_float + no_float  # the float verdict is wrong
    units = roll(("A", "0.1"), ("B", "1.3"), ("C", "0.7"), ("C", "0.7"))
    result = run(units, [("A", YES), ("B", YES), ("C", NO)])
    assert result.count(YES).area_centi == result.count(NO).area_centi == 140
    assert result.outcome is Outcome.REJECTED


def test_tally_thresholds_cross_multiply_large_integers() -> None:
    big = 10**15
    assert quorum_met(2 * big, 2, 3 * big, 3)
    assert not quorum_met(2 * big - 1, 2, 3 * big, 3)
    assert majority_met(Rule.SPECIAL, 3 * big, 3, 4 * big, 4)
    assert not majority_met(Rule.SPECIAL, 3 * big - 1, 3, 4 * big, 4)
    assert not majority_met(Rule.ORDINARY, big, 1, 2 * big, 2)


def test_tally_nobody_taking_part_carries_nothing() -> None:
    assert not majority_met(Rule.SPECIAL, 0, 0, 0, 0)
    result = run(roll(("A", "1")), [], SPECIAL)
    assert result.outcome is Outcome.NO_QUORUM
    assert result.participating_headcount == 0


# --- input validation ----------------------------------------------------------------------


def test_tally_ballot_from_unknown_holder_is_refused() -> None:
    with pytest.raises(UnknownHolderError) as caught:
        run(roll(("A", "1")), [("A", YES), ("X17", NO)])
    assert caught.value.index == 1
    assert "X17" in str(caught.value)


def test_tally_duplicate_ballot_is_refused() -> None:
    with pytest.raises(DuplicateBallotError) as caught:
        run(roll(("A", "1"), ("B", "1")), [("A", YES), ("B", NO), ("A", NO)])
    assert (caught.value.index, caught.value.first_index) == (2, 0)


def test_tally_unknown_choice_is_refused() -> None:
    with pytest.raises(UnknownChoiceError) as caught:
        run(roll(("A", "1"), ("B", "1")), [("A", YES), ("B", "maybe")])
    assert caught.value.index == 1
    assert "maybe" in str(caught.value)


def test_tally_duplicate_unit_is_refused() -> None:
    units = [UnitShare("U1", "1号楼", 100, "A"), UnitShare("U1", "1号楼", 100, "B")]
    with pytest.raises(DuplicateUnitError) as caught:
        run(units, [])
    assert (caught.value.index, caught.value.first_index) == (1, 0)


@pytest.mark.parametrize("area", [0, -100, 1.5, True])
def test_tally_invalid_unit_area_is_refused(area: object) -> None:
    units = [UnitShare("U1", "1号楼", 100, "A"), UnitShare("U2", "1号楼", area, "B")]  # type: ignore[arg-type]
    with pytest.raises(InvalidAreaError) as caught:
        run(units, [])
    assert caught.value.index == 1


# --- choice among several options ----------------------------------------------------------


def test_tally_choice_sole_winner_passes() -> None:
    motion = Motion.choice(["物业甲", "物业乙", "物业丙"], Rule.ORDINARY)
    units = roll(("A", "40"), ("B", "30"), ("C", "20"), ("D", "10"), ("E", "5"))
    ballots = [("A", "物业甲"), ("B", "物业甲"), ("C", "物业乙"), ("D", "物业甲"), ("E", ABSTAIN)]
    result = run(units, ballots, motion)
    assert result.outcome is Outcome.PASSED
    assert result.count(ABSTAIN).area_centi == 5_00
    assert result.winner == "物业甲"
    assert result.count("物业丙").area_centi == 0


def test_tally_choice_without_majority_is_no_decision() -> None:
    motion = Motion.choice(["物业甲", "物业乙", "物业丙"], Rule.ORDINARY)
    units = roll(("A", "40"), ("B", "30"), ("C", "20"), ("D", "10"))
    result = run(
        units, [("A", "物业甲"), ("B", "物业乙"), ("C", "物业丙"), ("D", "物业甲")], motion
    )
    assert result.quorum_met
    assert result.outcome is Outcome.NO_DECISION
    assert result.winner is None


def test_tally_choice_rejects_an_option_not_offered() -> None:
    motion = Motion.choice(["甲", "乙"], Rule.ORDINARY)
    with pytest.raises(UnknownChoiceError):
        run(roll(("A", "1")), [("A", YES)], motion)


# --- committee election --------------------------------------------------------------------


def test_tally_election_seats_by_yes_area_then_headcount() -> None:
    motion = Motion.election(["甲", "乙", "丙", "丁"], seats=2)
    units = roll(("A", "30"), ("B", "20"), ("C", "20"), ("D", "10"), ("E", "10"), ("F", "10"))
    ballots: list[tuple[str, Choice]] = [
        ("A", frozenset({"甲", "乙"})),
        ("B", frozenset({"甲", "乙", "丙"})),
        ("C", frozenset({"甲", "丙"})),
        ("D", frozenset({"甲", "乙", "丙"})),
        ("E", frozenset({"乙", "丙"})),
        ("F", frozenset({"丙", "丁"})),
    ]
    result = run(units, ballots, motion)
    # 甲 80 m²/4, 乙 70 m²/4, 丙 70 m²/5, 丁 10 m²/1 of 100 m²/6: 丙 beats 乙 on headcount.
    assert [(c.area_centi, c.headcount) for c in result.counts] == [
        (80_00, 4),
        (70_00, 4),
        (70_00, 5),
        (10_00, 1),
        (0, 0),
    ]
    assert result.approved == ("甲", "乙", "丙")
    assert result.elected == ("甲", "丙")
    assert result.tied_for_last_seat == ()
    assert result.outcome is Outcome.PASSED


def test_tally_election_tie_for_last_seat_is_reported() -> None:
    motion = Motion.election(["甲", "乙", "丙"], seats=2)
    units = roll(("A", "40"), ("B", "30"), ("C", "30"))
    ballots: list[tuple[str, Choice]] = [
        ("A", frozenset({"甲", "乙", "丙"})),
        ("B", frozenset({"甲", "乙"})),
        ("C", frozenset({"甲", "丙"})),
    ]
    result = run(units, ballots, motion)
    assert result.elected == ("甲",)
    assert result.tied_for_last_seat == ("乙", "丙")
    assert motion.seats - len(result.elected) == 1


def test_tally_election_candidate_without_majority_is_not_elected() -> None:
    motion = Motion.election(["甲", "乙"], seats=2)
    units = roll(("A", "40"), ("B", "30"), ("C", "30"))
    ballots: list[tuple[str, Choice]] = [
        ("A", frozenset({"甲", "乙"})),
        ("B", frozenset({"甲"})),
        ("C", frozenset()),  # approves nobody: an abstention
    ]
    result = run(units, ballots, motion)
    assert result.elected == ("甲",)
    assert result.count(ABSTAIN).headcount == 1
    assert result.participating_headcount == 3


def test_tally_election_nobody_approved_is_no_decision() -> None:
    motion = Motion.election(["甲", "乙"], seats=1)
    units = roll(("A", "40"), ("B", "30"), ("C", "30"))
    result = run(
        units, [("A", frozenset({"甲"})), ("B", frozenset({"乙"})), ("C", ABSTAIN)], motion
    )
    assert result.outcome is Outcome.NO_DECISION
    assert result.elected == ()


def test_tally_election_unknown_candidate_is_refused() -> None:
    motion = Motion.election(["甲", "乙"], seats=1)
    with pytest.raises(UnknownChoiceError):
        run(roll(("A", "1")), [("A", frozenset({"甲", "戊"}))], motion)
    with pytest.raises(UnknownChoiceError):
        run(roll(("A", "1")), [("A", "甲")], motion)


# --- motions and matters -------------------------------------------------------------------


@pytest.mark.parametrize("matter", [6, 7, 8])
def test_tally_rule_for_special_matters(matter: int) -> None:
    assert rule_for_matter(matter) is Rule.SPECIAL


@pytest.mark.parametrize("matter", [1, 2, 3, 4, 5, 9])
def test_tally_rule_for_ordinary_matters(matter: int) -> None:
    assert rule_for_matter(matter) is Rule.ORDINARY


@pytest.mark.parametrize("matter", [0, 10, -1, True, "6", 6.0])
def test_tally_rule_for_matter_out_of_range_is_refused(matter: object) -> None:
    with pytest.raises(ValueError, match="1 to 9"):
        rule_for_matter(matter)  # type: ignore[arg-type]


def test_tally_motion_shapes_are_validated() -> None:
    with pytest.raises(ValueError):
        Motion.choice(["甲"], Rule.ORDINARY)
    with pytest.raises(ValueError):
        Motion.choice(["甲", "甲"], Rule.ORDINARY)
    with pytest.raises(ValueError):
        Motion.choice(["甲", ABSTAIN], Rule.ORDINARY)
    with pytest.raises(ValueError):
        Motion.election(["甲"], seats=0)
    with pytest.raises(ValueError):
        Motion(MotionKind.YES_NO, Rule.ORDINARY, ("同意", "反对"))
    assert Motion.election(["甲"], seats=1).rule is Rule.ORDINARY
