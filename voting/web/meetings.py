"""A meeting's page for owners and staff: live turnout while voting runs, results after the
close, and the printable result notice.

    GET /meetings/<code>/<id>              the meeting: its motions; while open, turnout
                                           (area and headcount against the 2/3 quorum, per
                                           motion) and never a choice; after the close, each
                                           motion's result with bar charts, the breakdown per
                                           building and, where the rules of procedure say so,
                                           the units with their choices (never names)
    GET /meetings/<code>/<id>/notice.pdf   the result notice to post (A4, Chinese), after close

Who sees it: staff allowed to view the area's meetings (`Action.view_meetings`), and owners
logged in with a card of the area (not drafts). Once the result is published (also if the
decision was later annulled) the page and the notice are public. An anonymous visitor gets a
401 page offering both logins (owner card, staff), whether or not the meeting exists; staff
without the permission get 403; an owner gets 404 for another area's meetings and for
drafts, so that they are not revealed.

The figures come from `voting.services.results` (the one tally engine). The charts are
inline SVG drawn with classes and presentation attributes only: the Content-Security-Policy
forbids inline styles. The JSON of turnout and results is served by `voting.web.api`;
`OPENAPI_PATHS` below documents its shape.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, abort, current_app, make_response, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from werkzeug.wrappers import Response

from voting.database import db_session
from voting.domain.area import format_area
from voting.domain.procedure import BEIJING, MeetingState
from voting.domain.tally import ABSTAIN, NO, YES, MotionKind, Rule, rule_for_matter
from voting.models import Meeting, Motion, PropertyArea, utcnow
from voting.permissions import Action, can
from voting.results_pdf import (
    NoticeMotion,
    NoticeOption,
    NoticeUnit,
    ResultNotice,
    render_result_notice,
)
from voting.services import ServiceError
from voting.services.results import results, turnout
from voting.web.auth import current_card, current_user, require
from voting.web.procedure_text import MATTERS, RULES, STATES

bp = Blueprint("meetings", __name__, url_prefix="/meetings")

_AFTER_CLOSE = frozenset({MeetingState.closed, MeetingState.published, MeetingState.annulled})

OUTCOMES: dict[str, Any] = {
    "passed": _l("Passed"),
    "rejected": _l("Not passed: the majority was not reached"),
    "no_quorum": _l("No decision: the participation threshold was not met"),
    "no_decision": _l("No decision: no option alone reached the majority"),
    "not_counted": _l("Could not be counted"),
}
CHOICES: dict[str, Any] = {YES: _l("In favour"), NO: _l("Against"), ABSTAIN: _l("Abstain")}
CHANNELS: dict[str, Any] = {"electronic": _l("Electronic"), "paper": _l("Paper")}


def now() -> dt.datetime:
    """The time of this request (one place, so that tests can set the clock)."""
    return utcnow()


def local_time(moment: dt.datetime | None) -> str:
    """Beijing wall-clock time to the minute, as every meeting page shows times."""
    if moment is None:
        return ""
    return moment.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")


# --- who may see the meeting ------------------------------------------------------------


@dataclass(frozen=True)
class Viewing:
    area: PropertyArea
    meeting: Meeting
    staff: bool  # a staff user allowed to view the area's meetings
    owner: bool  # an owner logged in with a card of the area


def _load(code: str, meeting_id: int) -> Viewing:
    """The meeting, if this visitor may see it (else login redirect, 403 or 404).

    A published result is public. Otherwise: staff need `view_meetings` in the area; an
    owner needs a card of the area and the meeting must have left the draft stage.
    Anonymous visitors are sent to the login page whether or not the meeting exists.
    """
    session = db_session()
    area = session.scalar(select(PropertyArea).where(PropertyArea.code == code))
    meeting = session.get(Meeting, meeting_id) if area is not None else None
    if meeting is not None and area is not None and meeting.property_area_id != area.id:
        meeting = None
    user = current_user()
    staff = area is not None and can(user, Action.view_meetings, area)
    card = current_card() if user is None else None
    owner = (
        card is not None
        and area is not None
        and card.property_area_id == area.id
        and meeting is not None
        and meeting.state is not MeetingState.draft
    )
    visible = meeting is not None and (meeting.published_at is not None or staff or owner)
    if area is not None and meeting is not None and visible:
        return Viewing(area, meeting, staff, owner)
    if card is not None:
        abort(404)  # an owner: other areas' meetings and drafts are not revealed
    if user is None:
        abort(_login_choice())
    require(Action.view_meetings, area)  # staff without the right → 403
    abort(404)


def _login_choice() -> Response:
    """401 for an anonymous visitor: log in with an owner card, or as staff (and come back)."""
    page = render_template("meetings/login.html", next=request.full_path.rstrip("?"))
    return make_response(page, 401)


# --- figures as the page shows them -----------------------------------------------------


def _percent(part: int, whole: int) -> float:
    return 0.0 if whole <= 0 else 100.0 * part / whole


def _x(value: float) -> str:
    """An SVG coordinate in the 0–100 box (drawing only; no rule is decided from it)."""
    return f"{min(max(value, 0.0), 100.0):.2f}"


def _share(part: int, whole: int) -> str:
    """A share for reading, rounded to one decimal (the rules are decided exactly)."""
    return f"{_percent(part, whole):.1f}%"


def area_text(centi: int) -> str:
    return str(_("%(area)s m²", area=format_area(centi)))


@dataclass(frozen=True)
class Quorum:
    """Participation against the totals in scope and the 2/3 quorum."""

    part_area: str
    part_heads: str
    total_area: str
    total_heads: str
    needed_area: str
    needed_heads: str
    area_x: str
    heads_x: str
    area_share: str
    heads_share: str
    met: bool


def _quorum(figures: dict[str, Any]) -> Quorum:
    part, total, needed = figures["participation"], figures["totals"], figures["quorum_needed"]
    return Quorum(
        part_area=area_text(part["area_centi"]),
        part_heads=str(part["headcount"]),
        total_area=area_text(total["area_centi"]),
        total_heads=str(total["headcount"]),
        needed_area=area_text(needed["area_centi"]),
        needed_heads=str(needed["headcount"]),
        area_x=_x(_percent(part["area_centi"], total["area_centi"])),
        heads_x=_x(_percent(part["headcount"], total["headcount"])),
        area_share=_share(part["area_centi"], total["area_centi"]),
        heads_share=_share(part["headcount"], total["headcount"]),
        met=bool(figures["quorum_met"]),
    )


@dataclass(frozen=True)
class OptionBar:
    """One option's area and headcount as shares of the participation."""

    label: str
    area: str
    heads: str
    area_x: str
    heads_x: str
    area_share: str
    heads_share: str
    carried: bool
    abstain: bool


def option_label(option: str, kind: MotionKind | str) -> str:
    """Yes, no and abstain in the UI language; an option's own text as it is."""
    if option == ABSTAIN or MotionKind(kind) is MotionKind.YES_NO:
        return str(CHOICES.get(option, option))
    return option


def choice_text(choice: Any, kind: MotionKind | str) -> str:
    if isinstance(choice, list):
        return "、".join(choice) if choice else str(CHOICES[ABSTAIN])
    return option_label(str(choice), kind)


@dataclass(frozen=True)
class BuildingRow:
    building: str
    total_area: str
    total_heads: int
    part_area: str
    part_heads: int
    cells: list[tuple[str, int]]  # (area, headcount) per option, in the header's order


@dataclass(frozen=True)
class UnitRow:
    house: str
    area: str
    choice: str
    channel: str


@dataclass(frozen=True)
class MotionResultView:
    motion: Motion
    matter: str
    rule: str
    outcome: str
    outcome_text: str
    detail: str  # the winner, the elected, the tie
    error: str | None
    quorum: Quorum | None
    options: list[OptionBar]
    majority_x: str
    majority_label: str
    headers: list[str]
    buildings: list[BuildingRow]
    units: list[UnitRow] | None
    result_sha256: str
    log_index: int
    ballots_sha256: str
    counted: dict[str, int]


def _carried(result: dict[str, Any], option: str) -> bool:
    if result["outcome"] in ("no_quorum", "not_counted"):
        return False
    if result["kind"] == "yes_no":
        return option == YES and result["outcome"] == "passed"
    if result["kind"] == "choice":
        return bool(option == result["winner"])
    return option in result["approved"]


def _detail(result: dict[str, Any]) -> str:
    if result["outcome"] != "passed":
        return ""
    if result["kind"] == "choice":
        return str(_("Adopted: %(option)s", option=result["winner"]))
    if result["kind"] != "election":
        return ""
    parts = [
        str(_("Elected: %(names)s", names="、".join(result["elected"])))
        if result["elected"]
        else str(_("Nobody takes a seat outright."))
    ]
    if result["tied_for_last_seat"]:
        left = result["seats"] - len(result["elected"])
        parts.append(
            str(
                _(
                    "Tied for the last seat: %(names)s. Seats left for the assembly to settle "
                    "under its rules of procedure: %(left)d.",
                    names="、".join(result["tied_for_last_seat"]),
                    left=left,
                )
            )
        )
    return " ".join(parts)


def _option_bars(result: dict[str, Any]) -> list[OptionBar]:
    part = result["participation"]
    bars = []
    for count in result["counts"]:
        option = count["option"]
        bars.append(
            OptionBar(
                label=option_label(option, result["kind"]),
                area=area_text(count["area_centi"]),
                heads=str(count["headcount"]),
                area_x=_x(_percent(count["area_centi"], part["area_centi"])),
                heads_x=_x(_percent(count["headcount"], part["headcount"])),
                area_share=_share(count["area_centi"], part["area_centi"]),
                heads_share=_share(count["headcount"], part["headcount"]),
                carried=_carried(result, option),
                abstain=option == ABSTAIN,
            )
        )
    return bars


def _result_view(motion: Motion, item: dict[str, Any]) -> MotionResultView:
    result = item["result"]
    counted = result["error"] is None
    special = rule_for_matter(motion.matter) is Rule.SPECIAL
    options = [*result["options"], ABSTAIN] if motion.kind is not MotionKind.YES_NO else []
    labels = options or [YES, NO, ABSTAIN]
    buildings = [
        BuildingRow(
            building=row["building"],
            total_area=format_area(row["totals"]["area_centi"]),
            total_heads=row["totals"]["headcount"],
            part_area=format_area(row["participation"]["area_centi"]),
            part_heads=row["participation"]["headcount"],
            cells=[(format_area(c["area_centi"]), c["headcount"]) for c in row["counts"]],
        )
        for row in item["buildings"]
    ]
    units = item.get("units")
    return MotionResultView(
        motion=motion,
        matter=str(MATTERS[motion.matter]),
        rule=str(RULES[rule_for_matter(motion.matter)]),
        outcome=result["outcome"],
        outcome_text=str(OUTCOMES.get(result["outcome"], result["outcome"])),
        detail=_detail(result),
        error=result["error"],
        quorum=_quorum(result) if counted else None,
        options=_option_bars(result) if counted else [],
        majority_x="75.00" if special else "50.00",
        majority_label=str(
            _("Line: at least 3/4 needed") if special else _("Line: more than 1/2 needed")
        ),
        headers=[option_label(label, motion.kind) for label in labels],
        buildings=buildings,
        units=None
        if units is None
        else [
            UnitRow(
                house=f"{u['building']} {u['number']}",
                area=format_area(u["area_centi"]),
                choice=choice_text(u["choice"], motion.kind),
                channel=str(CHANNELS.get(u["channel"], u["channel"])),
            )
            for u in units
        ],
        result_sha256=item["result_sha256"],
        log_index=item["log_index"],
        ballots_sha256=result["inputs"]["ballots_sha256"],
        counted=result["ballots"],
    )


@dataclass(frozen=True)
class TurnoutView:
    motion: Motion
    quorum: Quorum | None
    error: str | None


def _turnout_views(meeting: Meeting) -> list[TurnoutView]:
    try:
        figures = turnout(db_session(), meeting)
    except ServiceError:
        return []
    by_id = {m.id: m for m in meeting.motions}
    return [
        TurnoutView(
            motion=by_id[item["motion"]],
            quorum=None if "error" in item else _quorum(item),
            error=item.get("error"),
        )
        for item in figures["motions"]
    ]


def _result_views(meeting: Meeting) -> list[MotionResultView]:
    try:
        found = results(db_session(), meeting)
    except ServiceError:
        return []
    by_id = {m.id: m for m in meeting.motions}
    return [_result_view(by_id[item["motion"]], item) for item in found["motions"]]


# --- the pages --------------------------------------------------------------------------


@bp.get("/<code>/<int:meeting_id>")
def meeting_page(code: str, meeting_id: int) -> str:
    viewing = _load(code, meeting_id)
    meeting = viewing.meeting
    after_close = meeting.state in _AFTER_CLOSE
    return render_template(
        "meetings/meeting.html",
        area=viewing.area,
        meeting=meeting,
        viewing=viewing,
        states=MeetingState,
        state_label=str(STATES[meeting.state]),
        local_time=local_time,
        matter_label=lambda matter: str(MATTERS[matter]),
        rule_label=lambda matter: str(RULES[rule_for_matter(matter)]),
        turnout=_turnout_views(meeting) if meeting.state is MeetingState.open else [],
        results=_result_views(meeting) if after_close else [],
        after_close=after_close,
        show_reason=viewing.staff or viewing.owner,
    )


def _notice(viewing: Viewing) -> ResultNotice:
    meeting = viewing.meeting
    found = results(db_session(), meeting)
    motions = []
    for item in found["motions"]:
        result = item["result"]
        counted = result["error"] is None
        units = item.get("units")
        motions.append(
            NoticeMotion(
                position=item["position"],
                title=item["title"],
                matter=result["matter"],
                kind=result["kind"],
                rule=result["rule"],
                scope=tuple(result["scope"]) if result["scope"] is not None else None,
                outcome=result["outcome"],
                total_area=format_area(result["totals"]["area_centi"]) if counted else None,
                total_headcount=result["totals"]["headcount"] if counted else None,
                participating_area=(
                    format_area(result["participation"]["area_centi"]) if counted else None
                ),
                participating_headcount=(result["participation"]["headcount"] if counted else None),
                quorum_met=result["quorum_met"],
                options=tuple(
                    NoticeOption(c["option"], format_area(c["area_centi"]), c["headcount"])
                    for c in (result["counts"] or [])
                ),
                winner=result["winner"],
                elected=tuple(result["elected"]),
                tied=tuple(result["tied_for_last_seat"]),
                seats=result["seats"],
                error=result["error"],
                units=None
                if units is None
                else tuple(
                    NoticeUnit(
                        f"{u['building']} {u['number']}",
                        format_area(u["area_centi"]),
                        u["choice"],
                        u["channel"],
                    )
                    for u in units
                ),
            )
        )
    return ResultNotice(
        platform=str(current_app.config["VOTING_PLATFORM_NAME"]),
        area_name=viewing.area.name,
        area_code=viewing.area.code,
        meeting_title=meeting.title,
        window=f"{local_time(meeting.window_opens_at)} 至 {local_time(meeting.window_closes_at)}",
        closed_at=local_time(meeting.closed_at),
        published_at=local_time(meeting.published_at) or None,
        printed_at=local_time(now()),
        roll_sha256=meeting.roll_sha256 or "",
        motions=tuple(motions),
        publication_late=bool(meeting.publication_late),
        annulled_at=local_time(meeting.annulled_at) or None,
        result_hashes=tuple((item["position"], item["result_sha256"]) for item in found["motions"]),
    )


@bp.get("/<code>/<int:meeting_id>/notice.pdf")
def notice_pdf(code: str, meeting_id: int) -> Response | tuple[str, int]:
    viewing = _load(code, meeting_id)
    if viewing.meeting.state not in _AFTER_CLOSE:
        text = _("The result notice can be printed once voting has closed.")
        return _unavailable(text)
    try:
        notice = _notice(viewing)
    except ServiceError:
        return _unavailable(_("No result has been recorded for this meeting."))
    data = render_result_notice(notice)
    filename = f"result-{viewing.area.code}-{viewing.meeting.id}.pdf"
    return Response(
        data,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{filename}"'},
    )


def _unavailable(text: str) -> tuple[str, int]:
    page = render_template("errors/error.html", code=409, title=_("Not available yet"), text=text)
    return page, 409


# --- the JSON of turnout and results (served by voting.web.api) ---------------------------

_PAIR = {
    "type": "object",
    "required": ["area_centi", "headcount"],
    "properties": {
        "area_centi": {
            "type": "integer",
            "minimum": 0,
            "description": "area in hundredths of a square metre (exact)",
        },
        "headcount": {"type": "integer", "minimum": 0, "description": "persons (RULES.md)"},
    },
}
_NULLABLE_PAIR = {"oneOf": [_PAIR, {"type": "null"}]}
_COUNT = {
    "type": "object",
    "required": ["option", "area_centi", "headcount"],
    "properties": {
        "option": {"type": "string", "description": "yes, no, an option, a candidate, abstain"},
        "area_centi": {"type": "integer", "minimum": 0},
        "headcount": {"type": "integer", "minimum": 0},
    },
}
_HEX64 = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
_TIME_OR_NULL = {"type": ["string", "null"], "description": "RFC 3339 UTC, or null"}
_MEETING_HEAD = {
    "meeting": {"type": "integer"},
    "title": {"type": "string"},
    "state": {"enum": [state.value for state in MeetingState]},
    "roll_sha256": {"oneOf": [_HEX64, {"type": "null"}]},
    "parking_counts": {"type": "boolean"},
    "window_opens_at": _TIME_OR_NULL,
    "window_closes_at": _TIME_OR_NULL,
}
_TURNOUT = {
    "type": "object",
    "description": (
        "Participation per motion, live while voting is open. Never a choice: no counts per "
        "option. A motion the engine cannot count has only `error`."
    ),
    "required": ["meeting", "state", "motions"],
    "properties": _MEETING_HEAD
    | {
        "motions": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["motion", "position", "title", "scope"],
                "properties": {
                    "motion": {"type": "integer"},
                    "position": {"type": "integer"},
                    "title": {"type": "string"},
                    "scope": {"type": ["array", "null"], "items": {"type": "string"}},
                    "totals": _PAIR,
                    "participation": _PAIR,
                    "quorum_needed": {
                        **_PAIR,
                        "description": "the least participation meeting 2/3 (⌈2·total/3⌉)",
                    },
                    "quorum_met": {"type": "boolean"},
                    "error": {"type": "string"},
                },
            },
        }
    },
}
_RESULT = {
    "type": "object",
    "description": "the stored canonical result of one motion (docs/TALLY.md)",
    "required": ["format", "motion", "outcome", "counts", "inputs"],
    "properties": {
        "format": {"const": "voting-motion-result/1"},
        "meeting": {"type": "integer"},
        "motion": {"type": "integer"},
        "position": {"type": "integer"},
        "matter": {"type": "integer", "minimum": 1, "maximum": 9},
        "kind": {"enum": ["yes_no", "choice", "election"]},
        "rule": {"enum": ["ordinary", "special"]},
        "options": {"type": "array", "items": {"type": "string"}},
        "seats": {"type": "integer"},
        "scope": {"type": ["array", "null"], "items": {"type": "string"}},
        "parking_counts": {"type": "boolean"},
        "totals": _NULLABLE_PAIR,
        "participation": _NULLABLE_PAIR,
        "quorum_needed": _NULLABLE_PAIR,
        "quorum_met": {"type": ["boolean", "null"]},
        "counts": {"type": ["array", "null"], "items": _COUNT},
        "outcome": {"enum": ["passed", "rejected", "no_quorum", "no_decision", "not_counted"]},
        "error": {"type": ["string", "null"]},
        "winner": {"type": ["string", "null"]},
        "approved": {"type": "array", "items": {"type": "string"}},
        "elected": {"type": "array", "items": {"type": "string"}},
        "tied_for_last_seat": {"type": "array", "items": {"type": "string"}},
        "ballots": {
            "type": "object",
            "properties": {
                "electronic": {"type": "integer"},
                "paper": {"type": "integer"},
                "set_aside": {"type": "integer"},
            },
        },
        "inputs": {
            "type": "object",
            "properties": {"roll_sha256": _HEX64, "ballots_sha256": _HEX64},
        },
        "tallied_at": {"type": "string"},
    },
}
_RESULTS = {
    "type": "object",
    "description": (
        "The stored result of each motion, with a breakdown per building (a person with "
        "units in two buildings counts in each building's headcount) and, when the rules of "
        "procedure publish per unit, the units with their choices (house numbers, never "
        "names)."
    ),
    "required": ["meeting", "state", "motions"],
    "properties": _MEETING_HEAD
    | {
        "closed_at": _TIME_OR_NULL,
        "published_at": _TIME_OR_NULL,
        "publication_late": {"type": ["boolean", "null"]},
        "annulled_at": _TIME_OR_NULL,
        "result_detail": {"enum": ["per_unit", "totals"]},
        "motions": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["motion", "result", "result_sha256", "log_index", "buildings"],
                "properties": {
                    "motion": {"type": "integer"},
                    "position": {"type": "integer"},
                    "title": {"type": "string"},
                    "result_sha256": _HEX64,
                    "log_index": {"type": "integer"},
                    "result": _RESULT,
                    "buildings": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {
                                "building": {"type": "string"},
                                "totals": _PAIR,
                                "participation": _PAIR,
                                "counts": {"type": "array", "items": _COUNT},
                            },
                        },
                    },
                    "units": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {
                                "building": {"type": "string"},
                                "number": {"type": "string"},
                                "area_centi": {"type": "integer"},
                                "choice": {"type": ["string", "array"]},
                                "channel": {"enum": ["electronic", "paper"]},
                            },
                        },
                    },
                },
            },
        },
    },
}
_MEETING_ID = {"name": "meeting_id", "in": "path", "required": True, "schema": {"type": "integer"}}
_SECURITY: list[dict[str, list[str]]] = [{"cardSession": []}, {"staffSession": []}]


def _errors(*codes: int) -> dict[str, Any]:
    return {str(code): {"$ref": f"#/components/responses/E{code}"} for code in codes}


def _ok(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


OPENAPI_PATHS: dict[str, Any] = {
    "/api/v1/meetings/{meeting_id}/turnout": {
        "get": {
            "operationId": "getTurnout",
            "summary": "Participation so far per motion, against the 2/3 quorum; never a choice",
            "description": "409 before voting opens (no roll snapshot yet).",
            "security": _SECURITY,
            "parameters": [_MEETING_ID],
            "responses": {"200": _ok(_TURNOUT, "participation"), **_errors(401, 403, 404, 409)},
        }
    },
    "/api/v1/meetings/{meeting_id}/results": {
        "get": {
            "operationId": "getResults",
            "summary": "The results of the meeting's motions, once voting has closed",
            "description": "409 before the close; 404 if the close recorded no result.",
            "security": _SECURITY,
            "parameters": [_MEETING_ID],
            "responses": {"200": _ok(_RESULTS, "the results"), **_errors(401, 403, 404, 409)},
        }
    },
}
