"""Meeting procedure in the UI language: labels, Beijing times, and the services' refusals.

`voting.services.meetings` and `voting.domain.procedure` refuse in plain English (for the
log and the command line); `refusal(message)` turns each of those messages into the UI
language with the HTTP status the web answers (409 for a step the state or the clock does
not allow now, 400 for bad input). Times are shown and entered as Beijing time
(Asia/Shanghai, UTC+08:00, no daylight saving), to the minute.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from voting.domain.procedure import BEIJING, MeetingState, ResultDetail
from voting.domain.tally import MotionKind, Rule

# --- labels ------------------------------------------------------------------------------

# Civil Code art. 278: the matters owners decide together (the same wording as the owner's
# ballot pages).
MATTERS: dict[int, Any] = {
    1: _l("Rules of procedure of the owners' assembly"),
    2: _l("Management covenant"),
    3: _l("Electing or replacing owners' committee members"),
    4: _l("Hiring or dismissing the property service company"),
    5: _l("Using the building maintenance fund"),
    6: _l("Raising the building maintenance fund"),
    7: _l("Rebuilding or renovating buildings and their facilities"),
    8: _l("Changing the use of common parts or running a business on them"),
    9: _l("Other major matters"),
}
RULES: dict[Rule, Any] = {
    Rule.ORDINARY: _l("Passes with more than half of the participating area and owners"),
    Rule.SPECIAL: _l("Passes with three quarters of the participating area and owners"),
}
# The same, in two words, where the matter is chosen.
SHORT_RULES: dict[Rule, Any] = {
    Rule.ORDINARY: _l("more than half"),
    Rule.SPECIAL: _l("three quarters"),
}
STATES: dict[MeetingState, Any] = {
    MeetingState.draft: _l("Draft"),
    MeetingState.noticed: _l("Notice posted"),
    MeetingState.open: _l("Open for voting"),
    MeetingState.closed: _l("Voting closed"),
    MeetingState.published: _l("Result published"),
    MeetingState.annulled: _l("Annulled"),
}
KINDS: dict[MotionKind, Any] = {
    MotionKind.YES_NO: _l("Yes / no / abstain"),
    MotionKind.CHOICE: _l("One of several options"),
    MotionKind.ELECTION: _l("Election of committee members"),
}
DETAILS: dict[ResultDetail, Any] = {
    ResultDetail.per_unit: _l("Per unit: house number, area and choice"),
    ResultDetail.totals: _l("Totals only"),
}
# What the state refusal names: the step that was refused.
VERBS: dict[str, Any] = {
    "post the notice of": _l("post its notice"),
    "open": _l("open voting"),
    "close": _l("close voting"),
    "publish the result of": _l("publish its result"),
    "annul": _l("annul it"),
}

# --- times ----------------------------------------------------------------------------

_LOCAL_INPUT = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2})?")


def local_time(moment: dt.datetime | None) -> str:
    """A time as Beijing wall-clock time to the minute: 2026-12-16 10:00."""
    if moment is None:
        return ""
    return moment.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")


def ceil_minute(moment: dt.datetime) -> dt.datetime:
    """The first whole minute at or after `moment` (an earliest time shown to the minute)."""
    floor = moment.replace(second=0, microsecond=0)
    return floor if floor == moment else floor + dt.timedelta(minutes=1)


def input_value(moment: dt.datetime) -> str:
    """A time as the value of a datetime-local input, in Beijing time."""
    return moment.astimezone(BEIJING).strftime("%Y-%m-%dT%H:%M")


def parse_local(value: str) -> dt.datetime | None:
    """A datetime-local value read as Beijing time; None if it is not a valid time."""
    value = value.strip()
    if not _LOCAL_INPUT.fullmatch(value):
        return None
    try:
        moment = dt.datetime.fromisoformat(value.replace(" ", "T"))
    except ValueError:
        return None
    return moment.replace(tzinfo=BEIJING)


def _iso_local(text: str, *, ceil: bool = False) -> str:
    """An ISO time from a service message as Beijing time (earliest times rounded up)."""
    try:
        moment = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        return text
    if moment.tzinfo is None:
        return text
    return local_time(ceil_minute(moment) if ceil else moment)


# --- the services' refusals in the UI language ----------------------------------------


def _state(value: str) -> str:
    try:
        return str(STATES[MeetingState(value)])
    except ValueError:
        return value


def _word(value: str) -> str:
    return _("candidate") if value == "candidate" else _("option")


Translate = Callable[[re.Match[str]], str]

# (pattern of the English message, status, text in the UI language).
_REFUSALS: list[tuple[re.Pattern[str], int, Translate]] = [
    (
        re.compile(r"cannot (?P<verb>.+?) a meeting that is (?P<state>\w+)(;.*)?"),
        409,
        lambda m: _(
            "The meeting is “%(state)s”: you cannot %(action)s now.",
            state=_state(m["state"]),
            action=str(VERBS.get(m["verb"], m["verb"])),
        ),
    ),
    (
        re.compile(r"the meeting is (?P<state>\w+): motions cannot be added, changed or removed.*"),
        409,
        lambda m: _(
            "The meeting is “%(state)s”: motions cannot be added, changed or removed once "
            "the notice is posted.",
            state=_state(m["state"]),
        ),
    ),
    (
        re.compile(r"a meeting needs at least one motion before its notice is posted"),
        409,
        lambda m: _("Add at least one motion before posting the notice."),
    ),
    (
        re.compile(
            r"the voting window cannot open before the (?P<days>\d+)-day notice period has run: "
            r"the earliest opening is (?P<time>\S+)"
        ),
        400,
        lambda m: _(
            "The voting window cannot open before the %(days)s-day notice period has run: "
            "the earliest opening is %(time)s (Beijing time).",
            days=m["days"],
            time=_iso_local(m["time"], ceil=True),
        ),
    ),
    (
        re.compile(r"the voting window must close after it opens"),
        400,
        lambda m: _("The voting window must close after it opens."),
    ),
    (
        re.compile(r"the voting window has not begun: it opens at (?P<time>\S+)"),
        409,
        lambda m: _(
            "The voting window has not begun: it opens at %(time)s (Beijing time).",
            time=_iso_local(m["time"]),
        ),
    ),
    (
        re.compile(r"the voting window has already ended"),
        409,
        lambda m: _("The voting window has already ended."),
    ),
    (
        re.compile(r"the voting window has not ended: it closes at (?P<time>[^;\s]+).*"),
        409,
        lambda m: _(
            "The voting window has not ended: it closes at %(time)s (Beijing time). Voting "
            "cannot be closed early.",
            time=_iso_local(m["time"]),
        ),
    ),
    (
        re.compile(r"area \S+ has no owner roll: import one before opening"),
        409,
        lambda m: _("The area has no owner roll: import one before opening voting."),
    ),
    (
        re.compile(
            r"motion (?P<position>\d+): the scope names buildings that are not in the owner "
            r"roll: (?P<names>.+)"
        ),
        409,
        lambda m: _(
            "Motion %(position)s: its scope names buildings that are not in the owner roll: "
            "%(names)s.",
            position=m["position"],
            names=m["names"],
        ),
    ),
    (
        re.compile(r"the scope names buildings that are not in the owner roll: (?P<names>.+)"),
        400,
        lambda m: _(
            "The scope names buildings that are not in the owner roll: %(names)s.",
            names=m["names"],
        ),
    ),
    (
        re.compile(r"the result cannot be published before the meeting closed"),
        409,
        lambda m: _("The result cannot be published before the meeting is closed."),
    ),
    (
        re.compile(r"an annulment needs a written reason"),
        400,
        lambda m: _("An annulment needs a written reason."),
    ),
    (
        re.compile(r"the reason is longer than (?P<limit>\d+) characters"),
        400,
        lambda m: _("The reason must be at most %(limit)s characters.", limit=m["limit"]),
    ),
    (
        re.compile(r"a meeting needs a title"),
        400,
        lambda m: _("Please give the meeting a title."),
    ),
    (
        re.compile(r"the meeting title is longer than (?P<limit>\d+) characters"),
        400,
        lambda m: _("The title must be at most %(limit)s characters.", limit=m["limit"]),
    ),
    (
        re.compile(r"the notice period must be at least (?P<days>\d+) days.*"),
        400,
        lambda m: _(
            "The notice period must be at least %(days)s days (Beijing Property Management "
            "Regulation art. 35).",
            days=m["days"],
        ),
    ),
    (
        re.compile(r"the notice period must be at most (?P<days>\d+) days.*"),
        400,
        lambda m: _("The notice period must be at most %(days)s days.", days=m["days"]),
    ),
    (
        re.compile(r"the proxy cap must be a whole number from 1 to (?P<limit>\d+).*"),
        400,
        lambda m: _("The proxy cap must be a whole number from 1 to %(limit)s.", limit=m["limit"]),
    ),
    (
        re.compile(r"matter must be an integer from 1 to 9.*"),
        400,
        lambda m: _("Choose the matter (1)–(9) of Civil Code art. 278."),
    ),
    (
        re.compile(r"the title must not be empty"),
        400,
        lambda m: _("Please give the motion a title."),
    ),
    (
        re.compile(r"the title is longer than (?P<limit>\d+) characters"),
        400,
        lambda m: _("The title must be at most %(limit)s characters.", limit=m["limit"]),
    ),
    (
        re.compile(r"the text must not be empty"),
        400,
        lambda m: _("Please give the text of the motion."),
    ),
    (
        re.compile(r"the text is longer than (?P<limit>\d+) characters"),
        400,
        lambda m: _("The text must be at most %(limit)s characters.", limit=m["limit"]),
    ),
    (
        re.compile(r"an? (?P<word>option|candidate) is longer than (?P<limit>\d+) characters"),
        400,
        lambda m: _(
            "Each %(word)s must be at most %(limit)s characters.",
            word=_word(m["word"]),
            limit=m["limit"],
        ),
    ),
    (
        re.compile(r"'abstain' is always offered and cannot be an? (?P<word>option|candidate)"),
        400,
        lambda m: _("“abstain” is always offered and cannot be a %(word)s.", word=_word(m["word"])),
    ),
    (
        re.compile(r"each (?P<word>option|candidate) may appear only once"),
        400,
        lambda m: _("Each %(word)s may appear only once.", word=_word(m["word"])),
    ),
    (
        re.compile(r"a motion may have at most (?P<limit>\d+) (?P<word>option|candidate)s"),
        400,
        lambda m: (
            _("A motion may have at most %(limit)s candidates.", limit=m["limit"])
            if m["word"] == "candidate"
            else _("A motion may have at most %(limit)s options.", limit=m["limit"])
        ),
    ),
    (
        re.compile(r"a choice motion needs at least two options"),
        400,
        lambda m: _("A motion with several options needs at least two options."),
    ),
    (
        re.compile(r"an election of committee members is matter \(3\).*"),
        400,
        lambda m: _(
            "An election of committee members is matter (3) of Civil Code art. 278: choose "
            "that matter."
        ),
    ),
    (
        re.compile(r"an election needs at least one candidate"),
        400,
        lambda m: _("An election needs at least one candidate."),
    ),
    (
        re.compile(r"an election needs from 1 to (?P<most>\d+) seats.*"),
        400,
        lambda m: _(
            "An election needs from 1 to %(most)s seats (at most one per candidate).",
            most=m["most"],
        ),
    ),
]


def refusal(message: str) -> tuple[int, str]:
    """A service's refusal as (status, text in the UI language); unknown ones as they are."""
    for pattern, status, translate in _REFUSALS:
        match = pattern.fullmatch(message.strip())
        if match:
            return status, translate(match)
    return 409, message
