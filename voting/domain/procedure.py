"""The procedure of an owners' assembly meeting: rules of procedure, states, deadlines.

Pure rules (see shared RULES.md "Procedure" and docs/PROCEDURE.md): frozen dataclasses in,
`None` or a value out, `ProcedureError` for anything the law or the rules of procedure
refuse. No clock is read here: every check takes the current time as an argument, and every
time must be timezone-aware.

Time arithmetic:

- Notice period (Beijing art. 35): the voting window may open at the earliest
  `notice_days` × 24 h after the notice was posted (`earliest_opening`), to the second.
- Voting window: half-open, `opens_at <= t < closes_at`.
- Publication (Beijing art. 37, "within 3 days of the decision"): counted in calendar days
  in Beijing time (UTC+08:00, no daylight saving) as the Civil Code counts periods (arts.
  201, 203): the day of the decision (the close) is not counted, and the period ends at
  24:00 of the third day after it. `publication_deadline` returns that instant (00:00 of
  the fourth day); a publication at or after it is late. A last day that falls on a public
  holiday is not extended (the platform has no holiday calendar), so the flag errs on the
  strict side only in that case.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from voting.domain.errors import DomainError
from voting.domain.tally import ABSTAIN, Motion, MotionKind, Rule, rule_for_matter

__all__ = [
    "BEIJING",
    "DEFAULT_RULES",
    "MAX_NOTICE_DAYS",
    "MAX_OPTIONS",
    "MAX_OPTION_LENGTH",
    "MAX_PROXY_CAP",
    "MAX_REASON_LENGTH",
    "MAX_TEXT_LENGTH",
    "MAX_TITLE_LENGTH",
    "MIN_NOTICE_DAYS",
    "PUBLICATION_DAYS",
    "TRANSITIONS",
    "MeetingState",
    "MotionSpec",
    "ProcedureError",
    "ResultDetail",
    "RulesOfProcedure",
    "check_annul",
    "check_ballot",
    "check_close",
    "check_motion_edit",
    "check_notice",
    "check_open",
    "check_publish",
    "check_scope",
    "check_transition",
    "earliest_opening",
    "publication_deadline",
    "publication_is_late",
]

MIN_NOTICE_DAYS = 15  # Beijing Property Management Regulation art. 35: at least 15 days
MAX_NOTICE_DAYS = 365
MAX_PROXY_CAP = 10_000
PUBLICATION_DAYS = 3  # Beijing Property Management Regulation art. 37
BEIJING = dt.timezone(dt.timedelta(hours=8), "Asia/Shanghai")

MAX_TITLE_LENGTH = 200
MAX_TEXT_LENGTH = 20_000
MAX_OPTION_LENGTH = 200
MAX_OPTIONS = 100
MAX_REASON_LENGTH = 2_000


class ProcedureError(DomainError):
    """An action the procedure refuses; the message says why in plain English."""


class ResultDetail(enum.StrEnum):
    """What a published result shows."""

    per_unit = "per_unit"  # house number, area and choice of every ballot
    totals = "totals"  # totals per option only


class MeetingState(enum.StrEnum):
    draft = "draft"  # motions may be added, changed and removed
    noticed = "noticed"  # notice posted; motions fixed; waiting for the window to open
    open = "open"  # ballots accepted inside the voting window
    closed = "closed"  # ballot box locked; result not yet published
    published = "published"  # result posted
    annulled = "annulled"  # decision annulled by the street office


TRANSITIONS: Mapping[MeetingState, frozenset[MeetingState]] = {
    MeetingState.draft: frozenset({MeetingState.noticed}),
    MeetingState.noticed: frozenset({MeetingState.open}),
    MeetingState.open: frozenset({MeetingState.closed}),
    MeetingState.closed: frozenset({MeetingState.published, MeetingState.annulled}),
    MeetingState.published: frozenset({MeetingState.annulled}),
    MeetingState.annulled: frozenset(),
}

_VERBS: Mapping[MeetingState, str] = {
    MeetingState.noticed: "post the notice of",
    MeetingState.open: "open",
    MeetingState.closed: "close",
    MeetingState.published: "publish the result of",
    MeetingState.annulled: "annul",
}


def check_transition(current: MeetingState, target: MeetingState) -> None:
    """Refuse a move that is not in `TRANSITIONS`, naming what is allowed instead."""
    if target in TRANSITIONS[current]:
        return
    verb = _VERBS.get(target, f"move to {target.value}")
    allowed = sorted(state.value for state in TRANSITIONS[current])
    then = f"; from {current.value} it can only become {' or '.join(allowed)}" if allowed else ""
    raise ProcedureError(f"cannot {verb} a meeting that is {current.value}{then}")


def _aware(name: str, moment: dt.datetime) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ProcedureError(f"{name} must be a timezone-aware datetime")


# --- rules of procedure ---------------------------------------------------------------


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True, slots=True)
class RulesOfProcedure:
    """The parts of an area's rules of procedure (议事规则) the platform applies."""

    notice_days: int = MIN_NOTICE_DAYS
    allow_vote_change: bool = False
    proxy_cap: int = 1
    parking_counts: bool = False
    result_detail: ResultDetail = ResultDetail.per_unit

    def __post_init__(self) -> None:
        if not _is_int(self.notice_days) or self.notice_days < MIN_NOTICE_DAYS:
            raise ProcedureError(
                f"the notice period must be at least {MIN_NOTICE_DAYS} days "
                f"(Beijing Property Management Regulation art. 35), got {self.notice_days!r}"
            )
        if self.notice_days > MAX_NOTICE_DAYS:
            raise ProcedureError(
                f"the notice period must be at most {MAX_NOTICE_DAYS} days, got {self.notice_days}"
            )
        if not _is_int(self.proxy_cap) or not 1 <= self.proxy_cap <= MAX_PROXY_CAP:
            raise ProcedureError(
                f"the proxy cap must be a whole number from 1 to {MAX_PROXY_CAP}, "
                f"got {self.proxy_cap!r}"
            )
        for name in ("allow_vote_change", "parking_counts"):
            if not isinstance(getattr(self, name), bool):
                raise ProcedureError(f"{name} must be true or false")
        if not isinstance(self.result_detail, ResultDetail):
            raise ProcedureError(
                "result_detail must be one of " + ", ".join(d.value for d in ResultDetail)
            )

    def to_dict(self) -> dict[str, Any]:
        """The rules as plain JSON values (for the log and for copies)."""
        return {
            "notice_days": self.notice_days,
            "allow_vote_change": self.allow_vote_change,
            "proxy_cap": self.proxy_cap,
            "parking_counts": self.parking_counts,
            "result_detail": self.result_detail.value,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RulesOfProcedure:
        """The inverse of `to_dict`; unknown or missing keys are refused."""
        expected = set(cls.__dataclass_fields__)
        if set(data) != expected:
            raise ProcedureError(f"rules of procedure need exactly the keys {sorted(expected)}")
        try:
            detail = ResultDetail(data["result_detail"])
        except ValueError:
            raise ProcedureError(
                "result_detail must be one of " + ", ".join(d.value for d in ResultDetail)
            ) from None
        return cls(
            notice_days=data["notice_days"],
            allow_vote_change=data["allow_vote_change"],
            proxy_cap=data["proxy_cap"],
            parking_counts=data["parking_counts"],
            result_detail=detail,
        )


DEFAULT_RULES = RulesOfProcedure()


# --- motions --------------------------------------------------------------------------


def _check_label(what: str, value: object, limit: int) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ProcedureError(f"{what} must not be empty")
    if value != value.strip():
        raise ProcedureError(f"{what} {value!r} has leading or trailing spaces")
    if len(value) > limit:
        raise ProcedureError(f"{what} is longer than {limit} characters")


@dataclass(frozen=True, slots=True)
class MotionSpec:
    """A motion as the committee writes it, before notice.

    `matter` is the art. 278 matter (1)-(9), from which the rule follows; `options` are the
    options of a choice motion or the candidates of an election (empty for yes/no);
    `seats` is the number of seats of an election (0 otherwise); `scope` is None for all
    buildings or the names of the buildings whose owners decide.
    """

    matter: int
    kind: MotionKind
    title: str
    text: str
    options: tuple[str, ...] = ()
    seats: int = 0
    scope: frozenset[str] | None = None

    def __post_init__(self) -> None:
        try:
            rule_for_matter(self.matter)
        except ValueError as exc:
            raise ProcedureError(str(exc)) from None
        if not isinstance(self.kind, MotionKind):
            raise ProcedureError(
                "the kind must be one of " + ", ".join(k.value for k in MotionKind)
            )
        _check_label("the title", self.title, MAX_TITLE_LENGTH)
        if not isinstance(self.text, str) or not self.text.strip():
            raise ProcedureError("the text must not be empty")
        if len(self.text) > MAX_TEXT_LENGTH:
            raise ProcedureError(f"the text is longer than {MAX_TEXT_LENGTH} characters")
        if not isinstance(self.options, tuple):
            raise ProcedureError("options must be a tuple of labels")
        if not _is_int(self.seats):
            raise ProcedureError(f"seats must be a whole number, got {self.seats!r}")
        self._check_kind()
        self._check_scope_names()

    def _check_kind(self) -> None:
        word = "candidate" if self.kind is MotionKind.ELECTION else "option"
        for label in self.options:
            _check_label(f"a {word}", label, MAX_OPTION_LENGTH)
            if label == ABSTAIN:
                raise ProcedureError(f"{ABSTAIN!r} is always offered and cannot be a {word}")
        if len(set(self.options)) != len(self.options):
            raise ProcedureError(f"each {word} may appear only once")
        if len(self.options) > MAX_OPTIONS:
            raise ProcedureError(f"a motion may have at most {MAX_OPTIONS} {word}s")
        if self.kind is MotionKind.YES_NO:
            if self.options or self.seats:
                raise ProcedureError("a yes/no motion has no options and no seats")
        elif self.kind is MotionKind.CHOICE:
            if len(self.options) < 2:
                raise ProcedureError("a choice motion needs at least two options")
            if self.seats:
                raise ProcedureError("only an election has seats")
        else:
            if self.matter != 3:
                raise ProcedureError(
                    "an election of committee members is matter (3) of Civil Code art. 278"
                )
            if not self.options:
                raise ProcedureError("an election needs at least one candidate")
            if not 1 <= self.seats <= len(self.options):
                raise ProcedureError(
                    f"an election needs from 1 to {len(self.options)} seats "
                    f"(one per candidate at most), got {self.seats}"
                )

    def _check_scope_names(self) -> None:
        if self.scope is None:
            return
        if not isinstance(self.scope, frozenset) or not self.scope:
            raise ProcedureError(
                "the scope must be None (all buildings) or a non-empty set of buildings"
            )
        for name in self.scope:
            _check_label("a building name", name, MAX_OPTION_LENGTH)

    @property
    def rule(self) -> Rule:
        """The majority the law sets for the motion's matter."""
        return rule_for_matter(self.matter)

    def tally_motion(self) -> Motion:
        """The motion as the tally engine counts it."""
        if self.kind is MotionKind.YES_NO:
            return Motion.yes_no(self.rule)
        if self.kind is MotionKind.CHOICE:
            return Motion.choice(self.options, self.rule)
        return Motion.election(self.options, self.seats, self.rule)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values; the scope as a sorted list (None: all buildings)."""
        return {
            "matter": self.matter,
            "kind": self.kind.value,
            "title": self.title,
            "text": self.text,
            "options": list(self.options),
            "seats": self.seats,
            "scope": sorted(self.scope) if self.scope is not None else None,
        }


def check_scope(spec: MotionSpec, buildings: Collection[str]) -> None:
    """Refuse a scope naming a building that is not in the roll."""
    if spec.scope is None:
        return
    missing = sorted(spec.scope - set(buildings))
    if missing:
        raise ProcedureError(
            "the scope names buildings that are not in the owner roll: " + ", ".join(missing)
        )


def check_motion_edit(state: MeetingState) -> None:
    """Motions may be added, changed or removed only while the meeting is a draft."""
    if state is not MeetingState.draft:
        raise ProcedureError(
            f"the meeting is {state.value}: motions cannot be added, changed or removed "
            "once the notice is posted"
        )


# --- transitions with their conditions ------------------------------------------------


def earliest_opening(notice_posted_at: dt.datetime, notice_days: int) -> dt.datetime:
    """The first instant the voting window may open: notice + notice_days × 24 h."""
    _aware("the notice time", notice_posted_at)
    return notice_posted_at + dt.timedelta(days=notice_days)


def check_notice(
    state: MeetingState,
    motion_count: int,
    rules: RulesOfProcedure,
    notice_posted_at: dt.datetime,
    window_opens_at: dt.datetime,
    window_closes_at: dt.datetime,
) -> None:
    """Posting the notice: a draft with motions, a window after the notice period."""
    check_transition(state, MeetingState.noticed)
    _aware("the notice time", notice_posted_at)
    _aware("the window opening", window_opens_at)
    _aware("the window closing", window_closes_at)
    if motion_count < 1:
        raise ProcedureError("a meeting needs at least one motion before its notice is posted")
    earliest = earliest_opening(notice_posted_at, rules.notice_days)
    if window_opens_at < earliest:
        raise ProcedureError(
            f"the voting window cannot open before the {rules.notice_days}-day notice period "
            f"has run: the earliest opening is {earliest.astimezone(dt.UTC).isoformat()}"
        )
    if window_closes_at <= window_opens_at:
        raise ProcedureError("the voting window must close after it opens")


def check_open(
    state: MeetingState,
    window_opens_at: dt.datetime,
    window_closes_at: dt.datetime,
    now: dt.datetime,
) -> None:
    """Opening: a noticed meeting, once its window has begun and before it ends."""
    check_transition(state, MeetingState.open)
    _aware("the current time", now)
    if now < window_opens_at:
        raise ProcedureError(
            "the voting window has not begun: it opens at "
            f"{window_opens_at.astimezone(dt.UTC).isoformat()}"
        )
    if now >= window_closes_at:
        raise ProcedureError("the voting window has already ended")


def check_ballot(
    state: MeetingState,
    window_opens_at: dt.datetime,
    window_closes_at: dt.datetime,
    now: dt.datetime,
) -> None:
    """A ballot is accepted only while the meeting is open and inside its window."""
    _aware("the current time", now)
    if state is not MeetingState.open:
        raise ProcedureError(f"ballots are accepted only while open; the meeting is {state.value}")
    if not window_opens_at <= now < window_closes_at:
        raise ProcedureError("ballots are accepted only inside the voting window")


def check_close(state: MeetingState, window_closes_at: dt.datetime, now: dt.datetime) -> None:
    """Closing locks the ballot box at the window's end, never earlier."""
    check_transition(state, MeetingState.closed)
    _aware("the current time", now)
    if now < window_closes_at:
        raise ProcedureError(
            "the voting window has not ended: it closes at "
            f"{window_closes_at.astimezone(dt.UTC).isoformat()}; an early close is not allowed"
        )


def check_publish(state: MeetingState, closed_at: dt.datetime | None, now: dt.datetime) -> None:
    """Publishing: only a closed meeting, and not before it closed."""
    check_transition(state, MeetingState.published)
    _aware("the current time", now)
    if closed_at is None or now < closed_at:
        raise ProcedureError("the result cannot be published before the meeting closed")


def check_annul(state: MeetingState, reason: str) -> None:
    """Annulment: a closed or published meeting, with a written reason."""
    check_transition(state, MeetingState.annulled)
    if not isinstance(reason, str) or not reason.strip():
        raise ProcedureError("an annulment needs a written reason")
    if len(reason) > MAX_REASON_LENGTH:
        raise ProcedureError(f"the reason is longer than {MAX_REASON_LENGTH} characters")


# --- publication deadline -------------------------------------------------------------


def publication_deadline(closed_at: dt.datetime) -> dt.datetime:
    """00:00 Beijing time of the fourth calendar day after the close (end of day three)."""
    _aware("the closing time", closed_at)
    day = closed_at.astimezone(BEIJING).date() + dt.timedelta(days=PUBLICATION_DAYS + 1)
    return dt.datetime.combine(day, dt.time(), tzinfo=BEIJING)


def publication_is_late(closed_at: dt.datetime, published_at: dt.datetime) -> bool:
    """True if the result was posted after the 3 days Beijing art. 37 allows."""
    _aware("the publication time", published_at)
    return published_at >= publication_deadline(closed_at)
