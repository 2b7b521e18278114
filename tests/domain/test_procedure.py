"""The pure procedure rules: rules of procedure, transitions, windows, motions, deadlines."""

from __future__ import annotations

import datetime as dt

import pytest

from voting.domain.procedure import (
    BEIJING,
    DEFAULT_RULES,
    TRANSITIONS,
    MeetingState,
    MotionSpec,
    ProcedureError,
    ResultDetail,
    RulesOfProcedure,
    check_annul,
    check_ballot,
    check_close,
    check_motion_edit,
    check_notice,
    check_open,
    check_publish,
    check_scope,
    check_transition,
    earliest_opening,
    publication_deadline,
    publication_is_late,
)
from voting.domain.tally import Motion, MotionKind, Rule

UTC = dt.UTC
T0 = dt.datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
SECOND = dt.timedelta(seconds=1)
S = MeetingState

# --- rules of procedure -----------------------------------------------------------------


def test_procedure_rules_defaults() -> None:
    assert RulesOfProcedure(15, False, 1, False, ResultDetail.per_unit) == DEFAULT_RULES


def test_procedure_rules_refuse_notice_shorter_than_the_law() -> None:
    RulesOfProcedure(notice_days=15)
    with pytest.raises(ProcedureError, match="at least 15 days"):
        RulesOfProcedure(notice_days=14)
    with pytest.raises(ProcedureError, match="at least 15 days"):
        RulesOfProcedure(notice_days=True)  # type: ignore[arg-type]


@pytest.mark.parametrize("cap", [0, -1, 1.5, True])
def test_procedure_rules_refuse_bad_proxy_cap(cap: object) -> None:
    with pytest.raises(ProcedureError, match="proxy cap"):
        RulesOfProcedure(proxy_cap=cap)  # type: ignore[arg-type]


def test_procedure_rules_refuse_bad_flags_and_detail() -> None:
    with pytest.raises(ProcedureError, match="allow_vote_change"):
        RulesOfProcedure(allow_vote_change=1)  # type: ignore[arg-type]
    with pytest.raises(ProcedureError, match="result_detail"):
        RulesOfProcedure(result_detail="names")  # type: ignore[arg-type]


def test_procedure_rules_round_trip_through_dict() -> None:
    rules = RulesOfProcedure(20, True, 3, True, ResultDetail.totals)
    assert rules.to_dict() == {
        "notice_days": 20,
        "allow_vote_change": True,
        "proxy_cap": 3,
        "parking_counts": True,
        "result_detail": "totals",
    }
    assert RulesOfProcedure.from_dict(rules.to_dict()) == rules
    with pytest.raises(ProcedureError, match="keys"):
        RulesOfProcedure.from_dict({"notice_days": 20})
    with pytest.raises(ProcedureError, match="result_detail"):
        RulesOfProcedure.from_dict(rules.to_dict() | {"result_detail": "x"})


# --- transitions ------------------------------------------------------------------------

LEGAL = {(a, b) for a, targets in TRANSITIONS.items() for b in targets}


def test_procedure_transition_table_is_the_lifecycle() -> None:
    assert {
        (S.draft, S.noticed),
        (S.noticed, S.open),
        (S.open, S.closed),
        (S.closed, S.published),
        (S.closed, S.annulled),
        (S.published, S.annulled),
    } == LEGAL


@pytest.mark.parametrize(
    ("current", "target"),
    [(a, b) for a in MeetingState for b in MeetingState if (a, b) not in LEGAL],
)
def test_procedure_every_illegal_transition_is_refused(
    current: MeetingState, target: MeetingState
) -> None:
    with pytest.raises(ProcedureError, match=f"a meeting that is {current.value}"):
        check_transition(current, target)


def test_procedure_refusal_names_what_is_allowed() -> None:
    with pytest.raises(ProcedureError, match="can only become noticed"):
        check_transition(S.draft, S.open)
    with pytest.raises(ProcedureError, match=r"cannot annul a meeting that is annulled$"):
        check_transition(S.annulled, S.annulled)


# --- notice -----------------------------------------------------------------------------


def _notice(
    opens: dt.datetime, closes: dt.datetime | None = None, *, state: S = S.draft, motions: int = 1
) -> None:
    closes = closes or opens + dt.timedelta(days=7)
    check_notice(state, motions, DEFAULT_RULES, T0, opens, closes)


def test_procedure_notice_period_boundary() -> None:
    earliest = T0 + dt.timedelta(days=15)
    assert earliest_opening(T0, 15) == earliest
    _notice(earliest)
    with pytest.raises(ProcedureError, match="15-day notice period"):
        _notice(earliest - SECOND)


def test_procedure_notice_period_follows_the_rules() -> None:
    rules = RulesOfProcedure(notice_days=20)
    opens = T0 + dt.timedelta(days=20)
    check_notice(S.draft, 1, rules, T0, opens, opens + SECOND)
    with pytest.raises(ProcedureError, match="20-day"):
        check_notice(S.draft, 1, rules, T0, opens - SECOND, opens + SECOND)


def test_procedure_notice_refusals() -> None:
    opens = T0 + dt.timedelta(days=15)
    with pytest.raises(ProcedureError, match="at least one motion"):
        _notice(opens, motions=0)
    with pytest.raises(ProcedureError, match="close after it opens"):
        _notice(opens, opens)
    with pytest.raises(ProcedureError, match="noticed"):
        _notice(opens, state=S.noticed)
    with pytest.raises(ProcedureError, match="timezone-aware"):
        _notice(opens.replace(tzinfo=None))


# --- open, ballots, close, publish, annul -------------------------------------------------

OPENS = T0 + dt.timedelta(days=15)
CLOSES = OPENS + dt.timedelta(days=7)


def test_procedure_open_inside_the_window_only() -> None:
    check_open(S.noticed, OPENS, CLOSES, OPENS)
    with pytest.raises(ProcedureError, match="has not begun"):
        check_open(S.noticed, OPENS, CLOSES, OPENS - SECOND)
    with pytest.raises(ProcedureError, match="already ended"):
        check_open(S.noticed, OPENS, CLOSES, CLOSES)
    with pytest.raises(ProcedureError, match="cannot open a meeting that is draft"):
        check_open(S.draft, OPENS, CLOSES, OPENS)


def test_procedure_ballots_only_while_open_and_inside_the_window() -> None:
    check_ballot(S.open, OPENS, CLOSES, OPENS)
    check_ballot(S.open, OPENS, CLOSES, CLOSES - SECOND)
    for moment in (OPENS - SECOND, CLOSES):
        with pytest.raises(ProcedureError, match="inside the voting window"):
            check_ballot(S.open, OPENS, CLOSES, moment)
    for state in set(MeetingState) - {S.open}:
        with pytest.raises(ProcedureError, match="only while open"):
            check_ballot(state, OPENS, CLOSES, OPENS)


def test_procedure_close_at_the_window_end_never_earlier() -> None:
    check_close(S.open, CLOSES, CLOSES)
    with pytest.raises(ProcedureError, match="early close"):
        check_close(S.open, CLOSES, CLOSES - SECOND)
    with pytest.raises(ProcedureError, match="cannot close a meeting that is noticed"):
        check_close(S.noticed, CLOSES, CLOSES)


def test_procedure_publish_only_after_close() -> None:
    check_publish(S.closed, CLOSES, CLOSES)
    with pytest.raises(ProcedureError, match="before the meeting closed"):
        check_publish(S.closed, CLOSES, CLOSES - SECOND)
    with pytest.raises(ProcedureError, match="that is open"):
        check_publish(S.open, None, CLOSES)


def test_procedure_annul_closed_or_published_with_a_reason() -> None:
    check_annul(S.closed, "quorum miscounted")
    check_annul(S.published, "notice never posted")
    for reason in ("", "   "):
        with pytest.raises(ProcedureError, match="written reason"):
            check_annul(S.published, reason)
    with pytest.raises(ProcedureError, match="longer than"):
        check_annul(S.published, "x" * 2001)
    for state in (S.draft, S.noticed, S.open, S.annulled):
        with pytest.raises(ProcedureError, match=f"cannot annul a meeting that is {state.value}"):
            check_annul(state, "reason")


def test_procedure_motions_fixed_once_noticed() -> None:
    check_motion_edit(S.draft)
    for state in set(MeetingState) - {S.draft}:
        with pytest.raises(ProcedureError, match="once the notice is posted"):
            check_motion_edit(state)


# --- publication deadline ------------------------------------------------------------------


def test_procedure_publication_deadline_is_end_of_third_beijing_day() -> None:
    closed = dt.datetime(2026, 12, 1, 15, 0, tzinfo=BEIJING)
    deadline = dt.datetime(2026, 12, 5, 0, 0, tzinfo=BEIJING)
    assert publication_deadline(closed) == deadline
    assert not publication_is_late(closed, deadline - SECOND)
    assert publication_is_late(closed, deadline)
    # The same instants given in UTC.
    assert publication_deadline(closed.astimezone(UTC)) == deadline
    assert not publication_is_late(closed.astimezone(UTC), (deadline - SECOND).astimezone(UTC))


def test_procedure_publication_deadline_uses_the_beijing_date() -> None:
    # 2026-12-01 23:30 UTC is already 2 December in Beijing.
    closed = dt.datetime(2026, 12, 1, 23, 30, tzinfo=UTC)
    assert publication_deadline(closed) == dt.datetime(2026, 12, 6, 0, 0, tzinfo=BEIJING)
    # A close at the first second of a Beijing day still counts that day as day zero.
    midnight = dt.datetime(2026, 12, 2, 0, 0, tzinfo=BEIJING)
    assert publication_deadline(midnight) == dt.datetime(2026, 12, 6, 0, 0, tzinfo=BEIJING)
    assert publication_deadline(midnight - SECOND) == midnight + dt.timedelta(days=3)


def test_procedure_publication_refuses_naive_times() -> None:
    with pytest.raises(ProcedureError, match="timezone-aware"):
        publication_is_late(dt.datetime(2026, 12, 1), T0)
    with pytest.raises(ProcedureError, match="timezone-aware"):
        publication_is_late(T0, dt.datetime(2026, 12, 1))


# --- motions --------------------------------------------------------------------------------


def _spec(**changes: object) -> MotionSpec:
    fields: dict[str, object] = {
        "matter": 4,
        "kind": MotionKind.YES_NO,
        "title": "Renew the property service contract",
        "text": "Renew the contract with the current company for three years.",
    }
    fields.update(changes)
    return MotionSpec(**fields)  # type: ignore[arg-type]


def test_procedure_motion_rule_follows_the_matter() -> None:
    assert _spec(matter=4).rule is Rule.ORDINARY
    for matter in (6, 7, 8):
        assert _spec(matter=matter).rule is Rule.SPECIAL
    assert _spec().tally_motion() == Motion.yes_no(Rule.ORDINARY)


@pytest.mark.parametrize("matter", [0, 10, -1, True, "4", 4.0])
def test_procedure_motion_refuses_bad_matter(matter: object) -> None:
    with pytest.raises(ProcedureError, match="matter must be an integer from 1 to 9"):
        _spec(matter=matter)


def test_procedure_motion_choice_and_election() -> None:
    choice = _spec(kind=MotionKind.CHOICE, options=("Company A", "Company B"))
    assert choice.tally_motion() == Motion.choice(("Company A", "Company B"), Rule.ORDINARY)
    election = _spec(matter=3, kind=MotionKind.ELECTION, options=("A", "B", "C"), seats=3)
    assert election.tally_motion() == Motion.election(("A", "B", "C"), 3)
    scoped = _spec(matter=5, scope=frozenset({"1号楼"}))
    assert scoped.to_dict()["scope"] == ["1号楼"]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"title": ""}, "title must not be empty"),
        ({"title": "   "}, "title must not be empty"),
        ({"title": " padded"}, "leading or trailing spaces"),
        ({"title": "x" * 201}, "title is longer than 200"),
        ({"text": ""}, "text must not be empty"),
        ({"text": "x" * 20_001}, "text is longer than 20000"),
        ({"kind": "yes_no"}, "kind must be one of"),
        ({"options": ("a", "b")}, "no options and no seats"),
        ({"seats": 1}, "no options and no seats"),
        ({"kind": MotionKind.CHOICE, "options": ("only",)}, "at least two options"),
        ({"kind": MotionKind.CHOICE, "options": ("a", "a")}, "only once"),
        ({"kind": MotionKind.CHOICE, "options": ("a", "")}, "option must not be empty"),
        ({"kind": MotionKind.CHOICE, "options": ("a", "abstain")}, "always offered"),
        ({"kind": MotionKind.CHOICE, "options": ("a", "b"), "seats": 1}, "only an election"),
        ({"kind": MotionKind.CHOICE, "options": ["a", "b"]}, "tuple"),
        ({"kind": MotionKind.ELECTION, "options": ("a",), "seats": 1}, "matter \\(3\\)"),
        ({"matter": 3, "kind": MotionKind.ELECTION, "options": ()}, "at least one candidate"),
        ({"matter": 3, "kind": MotionKind.ELECTION, "options": ("a", "b")}, "from 1 to 2 seats"),
        (
            {"matter": 3, "kind": MotionKind.ELECTION, "options": ("a", "b"), "seats": 3},
            "from 1 to 2 seats",
        ),
        (
            {"matter": 3, "kind": MotionKind.ELECTION, "options": ("a", "a"), "seats": 1},
            "candidate may appear only once",
        ),
        ({"scope": frozenset()}, "non-empty set of buildings"),
        ({"scope": {"1号楼"}}, "non-empty set of buildings"),
        ({"scope": frozenset({""})}, "building name must not be empty"),
    ],
)
def test_procedure_motion_validation(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ProcedureError, match=message):
        _spec(**changes)


def test_procedure_motion_scope_must_exist_in_the_roll() -> None:
    spec = _spec(scope=frozenset({"1号楼", "9号楼"}))
    check_scope(spec, {"1号楼", "9号楼", "2号楼"})
    check_scope(_spec(), set())
    with pytest.raises(ProcedureError, match="not in the owner roll: 9号楼"):
        check_scope(spec, {"1号楼", "2号楼"})
