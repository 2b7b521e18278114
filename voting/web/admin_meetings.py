"""Staff pages for the rules of procedure and the meeting lifecycle (docs/PROCEDURE.md).

    GET  /admin/meetings/                                  → the user's own area (or home)
    GET  /admin/meetings/notices                           posted notices of the user's
                                                           communities (residents' committee)
    GET  /admin/meetings/<code>                            the area's meetings; new-meeting form
    POST /admin/meetings/<code>/new                        create a draft meeting
    GET  /admin/meetings/<code>/rules                      rules of procedure (form to managers)
    POST /admin/meetings/<code>/rules                      replace them
    GET  /admin/meetings/<code>/<id>                       the meeting and its motions
    GET|POST …/<id>/motions/new                            add a motion (draft only)
    GET|POST …/<id>/motions/<motion id>/edit               change a motion (draft only)
    GET|POST …/<id>/motions/<motion id>/remove             confirmation, then remove
    GET|POST …/<id>/notice                                 window form → confirmation → notice
    GET|POST …/<id>/open | close | publish                 confirmation, then the step
    GET|POST …/<id>/annul                                  reason and confirmation (street office)

Each handler: load → permission (`area_for`) → a service of `voting.services.meetings` →
render. The services refuse in plain English; `voting.web.procedure_text.refusal` turns each
of their messages into the UI language with a 4xx status, so a refused step shows why and
changes nothing. Times are shown and entered as Beijing time (Asia/Shanghai), to the minute.

Other features add links to the meeting page through the optional template
`meetings_admin/_extra.html` (context: `area`, `meeting`) or the block `meeting_links`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from jinja2 import TemplateNotFound
from werkzeug.wrappers import Response

from voting.database import db_session
from voting.domain.procedure import (
    BEIJING,
    MAX_NOTICE_DAYS,
    MAX_PROXY_CAP,
    MAX_REASON_LENGTH,
    MIN_NOTICE_DAYS,
    TRANSITIONS,
    MeetingState,
    MotionSpec,
    ProcedureError,
    ResultDetail,
    RulesOfProcedure,
    check_close,
    check_motion_edit,
    check_notice,
    check_open,
    check_publish,
    check_transition,
    earliest_opening,
    publication_deadline,
)
from voting.domain.tally import MotionKind, rule_for_matter
from voting.models import Meeting, Motion, PropertyArea, User, utcnow
from voting.permissions import Action, can, visible_areas
from voting.services import NotFound, ServiceError
from voting.services.logtree import load_log_signer
from voting.services.meetings import add_motion as add_motion_service
from voting.services.meetings import (
    annul_meeting,
    close_meeting,
    create_meeting,
    get_meeting,
    get_rules,
    meeting_rules,
    meetings_of_area,
    notices_for_community,
    open_meeting,
    post_notice,
    publish_meeting,
    remove_motion,
    roll_buildings,
    set_rules,
    update_motion,
)
from voting.web.auth import current_user, login_required, require
from voting.web.loaders import area_for, own_area_redirect, staff_user
from voting.web.procedure_text import (
    DETAILS,
    KINDS,
    MATTERS,
    RULES,
    SHORT_RULES,
    STATES,
    ceil_minute,
    input_value,
    local_time,
    parse_local,
    refusal,
)

bp = Blueprint("admin_meetings", __name__, url_prefix="/admin/meetings")


def now() -> dt.datetime:
    """The time of this request: the clock every step is given."""
    return utcnow()


EXTRA_TEMPLATE = "meetings_admin/_extra.html"
PageResult = Response | str | tuple[str, int]

# What each step does, for the confirmation page: (title, explanation, button).
STEPS: dict[str, tuple[Any, Any, Any]] = {
    "open": (
        _l("Open voting"),
        _l(
            "Voting opens now. The current owner roll is fixed as the meeting's snapshot and "
            "its hash is recorded; later roll imports do not change this meeting."
        ),
        _l("Open voting now"),
    ),
    "close": (
        _l("Close voting"),
        _l("The ballot box is locked: no further ballot is accepted. This cannot be undone."),
        _l("Close voting now"),
    ),
    "publish": (
        _l("Publish the result"),
        _l(
            "The result is posted for the owners. The law asks for publication within 3 days "
            "of the close; a later publication is recorded as late."
        ),
        _l("Publish the result now"),
    ),
}
_STEP_TARGETS = {
    "open": MeetingState.open,
    "close": MeetingState.closed,
    "publish": MeetingState.published,
}
_STEP_DONE = {
    "open": _l("Voting is open."),
    "close": _l("Voting is closed."),
    "publish": _l("The result is published."),
}


class FormError(Exception):
    """Form input that cannot become a request to a service (shown with a 400)."""


# --- loading --------------------------------------------------------------------------


def _meeting(code: str, meeting_id: int, action: Action) -> tuple[PropertyArea, Meeting]:
    area = area_for(code, action)
    try:
        return area, get_meeting(db_session(), area, meeting_id)
    except NotFound:
        abort(404)


def _motion(meeting: Meeting, motion_id: int) -> Motion:
    motion = db_session().get(Motion, motion_id)
    if motion is None or motion.meeting_id != meeting.id:
        abort(404)
    return motion


def _refused(
    area: PropertyArea, meeting: Meeting | None, text: str, status: int
) -> tuple[str, int]:
    """The page of a refused step: why, and the way back; nothing was changed."""
    page = render_template("meetings_admin/refused.html", area=area, meeting=meeting, text=text)
    return page, status


def _refused_by(
    area: PropertyArea, meeting: Meeting | None, exc: ServiceError | ProcedureError
) -> tuple[str, int]:
    status, text = refusal(str(exc))
    return _refused(area, meeting, text, status)


@bp.context_processor
def _helpers() -> dict[str, Any]:
    return {
        "local_time": local_time,
        "state_label": lambda state: str(STATES[MeetingState(state)]),
        "matter_label": lambda matter: str(MATTERS[matter]),
        "rule_label": lambda matter: str(RULES[rule_for_matter(matter)]),
        "short_rule_label": lambda matter: str(SHORT_RULES[rule_for_matter(matter)]),
        "kind_label": lambda kind: str(KINDS[MotionKind(kind)]),
        "detail_label": lambda detail: str(DETAILS[ResultDetail(detail)]),
        "building_list": lambda names: _(", ").join(sorted(names, key=_natural)),
        "matters": MATTERS,
        "kinds": KINDS,
        "details": DETAILS,
    }


@bp.app_context_processor
def _home_links() -> dict[str, Any]:
    """For the home pages: whether to link to the meetings of an area, or to the notices."""

    def can_view_meetings(area: PropertyArea) -> bool:
        return can(current_user(), Action.view_meetings, area)

    def can_see_notices() -> bool:
        return can(current_user(), Action.view_meetings)

    return {"can_view_meetings": can_view_meetings, "can_see_notices": can_see_notices}


# --- the area's meetings --------------------------------------------------------------


@bp.get("/")
@login_required
def index() -> Response:
    return own_area_redirect(".overview")


def _overview_page(
    area: PropertyArea, *, title: str = "", error: str | None = None, status: int = 200
) -> tuple[str, int]:
    session = db_session()
    page = render_template(
        "meetings_admin/list.html",
        area=area,
        meetings=meetings_of_area(session, area),
        rules=get_rules(session, area),
        can_manage=can(staff_user(), Action.manage_meetings, area),
        title=title,
        error=error,
    )
    return page, status


@bp.get("/<code>")
def overview(code: str) -> tuple[str, int]:
    return _overview_page(area_for(code, Action.view_meetings))


@bp.post("/<code>/new")
def new_meeting(code: str) -> PageResult:
    area = area_for(code, Action.manage_meetings)
    title = request.form.get("title", "").strip()
    try:
        meeting = create_meeting(db_session(), area, title, user_id=staff_user().id, now=now())
    except ServiceError as exc:
        status, text = refusal(str(exc))
        return _overview_page(area, title=title, error=text, status=status)
    flash(_("Meeting “%(title)s” created as a draft.", title=meeting.title), "success")
    return redirect(url_for(".meeting_page", code=area.code, meeting_id=meeting.id))


# --- rules of procedure ---------------------------------------------------------------


def _rules_page(
    area: PropertyArea,
    values: Mapping[str, Any] | None = None,
    *,
    error: str | None = None,
    status: int = 200,
) -> tuple[str, int]:
    rules = get_rules(db_session(), area)
    page = render_template(
        "meetings_admin/rules.html",
        area=area,
        rules=rules,
        values=values if values is not None else rules.to_dict(),
        can_manage=can(staff_user(), Action.manage_meetings, area),
        min_days=MIN_NOTICE_DAYS,
        max_days=MAX_NOTICE_DAYS,
        max_cap=MAX_PROXY_CAP,
        error=error,
    )
    return page, status


@bp.get("/<code>/rules")
def rules_page(code: str) -> tuple[str, int]:
    return _rules_page(area_for(code, Action.view_meetings))


def _whole_number(value: str, message: str) -> int:
    value = value.strip()
    if not re.fullmatch(r"-?\d{1,9}", value):
        raise FormError(message)
    return int(value)


def _rules_from(form: Mapping[str, str]) -> RulesOfProcedure:
    days = _whole_number(
        form.get("notice_days", ""), _("Enter the notice period as a whole number of days.")
    )
    cap = _whole_number(form.get("proxy_cap", ""), _("Enter the proxy cap as a whole number."))
    try:
        detail = ResultDetail(form.get("result_detail", ""))
    except ValueError:
        raise FormError(_("Choose what the published result shows.")) from None
    return RulesOfProcedure(
        notice_days=days,
        allow_vote_change=form.get("allow_vote_change") == "1",
        proxy_cap=cap,
        parking_counts=form.get("parking_counts") == "1",
        result_detail=detail,
    )


@bp.post("/<code>/rules")
def save_rules(code: str) -> PageResult:
    area = area_for(code, Action.manage_meetings)
    values = {
        "notice_days": request.form.get("notice_days", ""),
        "allow_vote_change": request.form.get("allow_vote_change") == "1",
        "proxy_cap": request.form.get("proxy_cap", ""),
        "parking_counts": request.form.get("parking_counts") == "1",
        "result_detail": request.form.get("result_detail", ""),
    }
    try:
        rules = _rules_from(request.form)
        set_rules(db_session(), area, rules, user_id=staff_user().id, now=now())
    except FormError as exc:
        return _rules_page(area, values, error=str(exc), status=400)
    except (ProcedureError, ServiceError) as exc:
        status, text = refusal(str(exc))
        return _rules_page(area, values, error=text, status=status)
    flash(_("The rules of procedure are saved."), "success")
    return redirect(url_for(".rules_page", code=area.code))


# --- the meeting page -----------------------------------------------------------------


def _has_extra() -> bool:
    try:
        current_app.jinja_env.get_template(EXTRA_TEMPLATE)
    except TemplateNotFound:
        return False
    return True


@bp.get("/<code>/<int:meeting_id>")
def meeting_page(code: str, meeting_id: int) -> str:
    area, meeting = _meeting(code, meeting_id, Action.view_meetings)
    session = db_session()
    user = staff_user()
    at = now()
    annulled_by = (
        session.get(User, meeting.annulled_by_id) if meeting.annulled_by_id is not None else None
    )
    opens, closes = meeting.window_opens_at, meeting.window_closes_at
    return render_template(
        "meetings_admin/meeting.html",
        area=area,
        meeting=meeting,
        draft=meeting.state is MeetingState.draft,
        rules=meeting_rules(meeting),
        area_rules=get_rules(session, area),
        can_manage=can(user, Action.manage_meetings, area),
        can_annul=can(user, Action.annul_meeting, area)
        and MeetingState.annulled in TRANSITIONS[meeting.state],
        open_now=opens is not None and closes is not None and opens <= at < closes,
        close_now=closes is not None and at >= closes,
        deadline=publication_deadline(meeting.closed_at) if meeting.closed_at else None,
        annulled_by=annulled_by,
        has_extra=_has_extra(),
        states=MeetingState,
    )


# --- motions --------------------------------------------------------------------------


def _lines(text: str) -> tuple[str, ...]:
    return tuple(line.strip() for line in text.splitlines() if line.strip())


def _natural(name: str) -> tuple[Any, ...]:
    """Sort key: 2号楼 before 10号楼."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name))


@dataclass
class MotionForm:
    """The motion form's fields as entered, so that a refused form is shown again as it was."""

    matter: str = ""
    kind: str = MotionKind.YES_NO.value
    title: str = ""
    text: str = ""
    options: str = ""
    seats: str = ""
    scope: str = "all"
    buildings: tuple[str, ...] = ()

    @classmethod
    def from_request(cls) -> MotionForm:
        form = request.form
        return cls(
            matter=form.get("matter", ""),
            kind=form.get("kind", ""),
            title=form.get("title", ""),
            text=form.get("text", "").replace("\r\n", "\n"),
            options=form.get("options", "").replace("\r\n", "\n"),
            seats=form.get("seats", ""),
            scope=form.get("scope", "all"),
            buildings=tuple(form.getlist("buildings")),
        )

    @classmethod
    def from_motion(cls, motion: Motion) -> MotionForm:
        scope = motion.scope
        return cls(
            matter=str(motion.matter),
            kind=motion.kind.value,
            title=motion.title,
            text=motion.text,
            options="\n".join(option.label for option in motion.options),
            seats=str(motion.seats) if motion.seats else "",
            scope="all" if scope is None else "some",
            buildings=tuple(sorted(scope, key=_natural)) if scope is not None else (),
        )

    def spec(self) -> MotionSpec:
        """The motion as the service takes it; fields the kind does not use are ignored."""
        if not re.fullmatch(r"[1-9]", self.matter.strip()):
            raise FormError(_("Choose the matter (1)–(9) of Civil Code art. 278."))
        try:
            kind = MotionKind(self.kind)
        except ValueError:
            raise FormError(_("Choose the kind of motion.")) from None
        options = _lines(self.options) if kind is not MotionKind.YES_NO else ()
        seats = 0
        if kind is MotionKind.ELECTION:
            seats = _whole_number(self.seats, _("Enter the number of seats as a whole number."))
        scope: frozenset[str] | None = None
        if self.scope == "some":
            scope = frozenset(name.strip() for name in self.buildings if name.strip())
            if not scope:
                raise FormError(_("Choose at least one building, or all buildings."))
        elif self.scope != "all":
            raise FormError(_("Choose all buildings or the buildings concerned."))
        return MotionSpec(
            matter=int(self.matter),
            kind=kind,
            title=self.title.strip(),
            text=self.text.strip(),
            options=options,
            seats=seats,
            scope=scope,
        )


def _editable(area: PropertyArea, meeting: Meeting) -> tuple[str, int] | None:
    """The refusal page if the meeting's motions are fixed, else None."""
    try:
        check_motion_edit(meeting.state)
    except ProcedureError as exc:
        return _refused_by(area, meeting, exc)
    return None


def _motion_page(
    area: PropertyArea,
    meeting: Meeting,
    form: MotionForm,
    motion: Motion | None = None,
    *,
    error: str | None = None,
    status: int = 200,
) -> tuple[str, int]:
    buildings = roll_buildings(db_session(), area) | set(form.buildings)
    page = render_template(
        "meetings_admin/motion_form.html",
        area=area,
        meeting=meeting,
        motion=motion,
        form=form,
        buildings=sorted(buildings, key=_natural),
        error=error,
    )
    return page, status


def _save_motion(area: PropertyArea, meeting: Meeting, motion: Motion | None) -> PageResult:
    form = MotionForm.from_request()
    session = db_session()
    user_id = staff_user().id
    try:
        spec = form.spec()
        if motion is None:
            saved = add_motion_service(session, meeting, spec, user_id=user_id, now=now())
        else:
            saved = update_motion(session, motion, spec, user_id=user_id, now=now())
    except FormError as exc:
        return _motion_page(area, meeting, form, motion, error=str(exc), status=400)
    except (ProcedureError, ServiceError) as exc:
        status, text = refusal(str(exc))
        if status == 409:
            return _refused(area, meeting, text, status)
        return _motion_page(area, meeting, form, motion, error=text, status=status)
    message = (
        _("Motion %(position)d added.", position=saved.position)
        if motion is None
        else _("Motion %(position)d saved.", position=saved.position)
    )
    flash(message, "success")
    return redirect(url_for(".meeting_page", code=area.code, meeting_id=meeting.id))


@bp.get("/<code>/<int:meeting_id>/motions/new")
def add_motion_form(code: str, meeting_id: int) -> tuple[str, int]:
    area, meeting = _meeting(code, meeting_id, Action.manage_meetings)
    return _editable(area, meeting) or _motion_page(area, meeting, MotionForm())


@bp.post("/<code>/<int:meeting_id>/motions/new")
def add_motion(code: str, meeting_id: int) -> PageResult:
    area, meeting = _meeting(code, meeting_id, Action.manage_meetings)
    return _save_motion(area, meeting, None)


@bp.get("/<code>/<int:meeting_id>/motions/<int:motion_id>/edit")
def edit_motion_form(code: str, meeting_id: int, motion_id: int) -> tuple[str, int]:
    area, meeting = _meeting(code, meeting_id, Action.manage_meetings)
    motion = _motion(meeting, motion_id)
    return _editable(area, meeting) or _motion_page(
        area, meeting, MotionForm.from_motion(motion), motion
    )


@bp.post("/<code>/<int:meeting_id>/motions/<int:motion_id>/edit")
def edit_motion(code: str, meeting_id: int, motion_id: int) -> PageResult:
    area, meeting = _meeting(code, meeting_id, Action.manage_meetings)
    return _save_motion(area, meeting, _motion(meeting, motion_id))


@bp.get("/<code>/<int:meeting_id>/motions/<int:motion_id>/remove")
def remove_motion_form(code: str, meeting_id: int, motion_id: int) -> tuple[str, int]:
    area, meeting = _meeting(code, meeting_id, Action.manage_meetings)
    motion = _motion(meeting, motion_id)
    refused = _editable(area, meeting)
    if refused:
        return refused
    page = render_template(
        "meetings_admin/confirm.html",
        area=area,
        meeting=meeting,
        motion=motion,
        title=_("Remove motion %(position)d", position=motion.position),
        explanation=_(
            "Motion %(position)d «%(title)s» is removed from the draft; the motions after it "
            "move up one place.",
            position=motion.position,
            title=motion.title,
        ),
        action=url_for(
            ".remove_motion_post", code=area.code, meeting_id=meeting.id, motion_id=motion.id
        ),
        button=_("Remove the motion"),
        hidden={},
    )
    return page, 200


@bp.post("/<code>/<int:meeting_id>/motions/<int:motion_id>/remove")
def remove_motion_post(code: str, meeting_id: int, motion_id: int) -> PageResult:
    area, meeting = _meeting(code, meeting_id, Action.manage_meetings)
    motion = _motion(meeting, motion_id)
    position = motion.position
    try:
        remove_motion(db_session(), motion, user_id=staff_user().id, now=now())
    except ServiceError as exc:
        return _refused_by(area, meeting, exc)
    flash(_("Motion %(position)d removed.", position=position), "success")
    return redirect(url_for(".meeting_page", code=area.code, meeting_id=meeting.id))


# --- the notice -----------------------------------------------------------------------


def _default_window(area: PropertyArea) -> tuple[dt.datetime, dt.datetime]:
    """A window the notice period allows with an hour to spare: whole hours, one week."""
    days = get_rules(db_session(), area).notice_days
    earliest = earliest_opening(now(), days) + dt.timedelta(hours=1)
    local = earliest.astimezone(BEIJING)
    opens = local.replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=1)
    return opens, opens + dt.timedelta(days=7)


def _notice_page(
    area: PropertyArea,
    meeting: Meeting,
    opens: str,
    closes: str,
    *,
    error: str | None = None,
    status: int = 200,
) -> tuple[str, int]:
    rules = get_rules(db_session(), area)
    page = render_template(
        "meetings_admin/notice_form.html",
        area=area,
        meeting=meeting,
        rules=rules,
        earliest=ceil_minute(earliest_opening(now(), rules.notice_days)),
        opens=opens,
        closes=closes,
        error=error,
    )
    return page, status


def _noticeable(area: PropertyArea, meeting: Meeting) -> tuple[str, int] | None:
    try:
        check_transition(meeting.state, MeetingState.noticed)
    except ProcedureError as exc:
        return _refused_by(area, meeting, exc)
    return None


@bp.get("/<code>/<int:meeting_id>/notice")
def notice_form(code: str, meeting_id: int) -> tuple[str, int]:
    area, meeting = _meeting(code, meeting_id, Action.manage_meetings)
    refused = _noticeable(area, meeting)
    if refused:
        return refused
    opens, closes = _default_window(area)
    return _notice_page(area, meeting, input_value(opens), input_value(closes))


@bp.post("/<code>/<int:meeting_id>/notice")
def notice(code: str, meeting_id: int) -> PageResult:
    """Without `confirmed`: check the window and ask for confirmation; with it: post."""
    area, meeting = _meeting(code, meeting_id, Action.manage_meetings)
    raw_opens = request.form.get("opens", "")
    raw_closes = request.form.get("closes", "")
    opens, closes = parse_local(raw_opens), parse_local(raw_closes)
    if opens is None or closes is None:
        text = _("Enter when the voting window opens and closes, as date and time.")
        return _notice_page(area, meeting, raw_opens, raw_closes, error=text, status=400)
    session = db_session()
    at = now()
    try:
        if request.form.get("confirmed") != "1":
            rules = get_rules(session, area)
            check_notice(meeting.state, len(meeting.motions), rules, at, opens, closes)
            return _notice_confirm(area, meeting, opens, closes, rules)
        post_notice(session, meeting, opens, closes, at, user_id=staff_user().id)
    except (ProcedureError, ServiceError) as exc:
        status, text = refusal(str(exc))
        if status == 409:
            return _refused(area, meeting, text, status)
        return _notice_page(area, meeting, raw_opens, raw_closes, error=text, status=status)
    flash(_("The notice is posted; the motions are now fixed."), "success")
    return redirect(url_for(".meeting_page", code=area.code, meeting_id=meeting.id))


def _notice_confirm(
    area: PropertyArea,
    meeting: Meeting,
    opens: dt.datetime,
    closes: dt.datetime,
    rules: RulesOfProcedure,
) -> tuple[str, int]:
    page = render_template(
        "meetings_admin/confirm.html",
        area=area,
        meeting=meeting,
        title=_("Post the notice"),
        explanation=_(
            "The notice of “%(title)s” is posted with its motions (%(count)d). From then on "
            "the motions cannot be changed, and the residents' committee sees the notice.",
            title=meeting.title,
            count=len(meeting.motions),
        ),
        facts=[
            (_("Voting opens (Beijing time)"), local_time(opens)),
            (_("Voting closes (Beijing time)"), local_time(closes)),
            (_("Notice period"), _("%(days)d days", days=rules.notice_days)),
        ],
        action=url_for(".notice", code=area.code, meeting_id=meeting.id),
        button=_("Post the notice now"),
        hidden={"opens": input_value(opens), "closes": input_value(closes), "confirmed": "1"},
        back=url_for(".notice_form", code=area.code, meeting_id=meeting.id),
    )
    return page, 200


# --- open, close, publish -------------------------------------------------------------

_CHECKS: dict[str, Callable[[Meeting, dt.datetime], None]] = {
    "open": lambda m, at: check_open(
        m.state, m.window_opens_at or at, m.window_closes_at or at, at
    ),
    "close": lambda m, at: check_close(m.state, m.window_closes_at or at, at),
    "publish": lambda m, at: check_publish(m.state, m.closed_at, at),
}


@bp.get("/<code>/<int:meeting_id>/<any(open, close, publish):step>")
def step_form(code: str, meeting_id: int, step: str) -> tuple[str, int]:
    area, meeting = _meeting(code, meeting_id, Action.manage_meetings)
    try:
        check_transition(meeting.state, _STEP_TARGETS[step])
        _CHECKS[step](meeting, now())
    except ProcedureError as exc:
        return _refused_by(area, meeting, exc)
    title, explanation, button = STEPS[step]
    facts = [(_("Meeting"), meeting.title), (_("State"), str(STATES[meeting.state]))]
    if meeting.window_opens_at and meeting.window_closes_at:
        window = f"{local_time(meeting.window_opens_at)} – {local_time(meeting.window_closes_at)}"
        facts.append((_("Voting window (Beijing time)"), window))
    page = render_template(
        "meetings_admin/confirm.html",
        area=area,
        meeting=meeting,
        title=str(title),
        explanation=str(explanation),
        facts=facts,
        action=url_for(".step", code=area.code, meeting_id=meeting.id, step=step),
        button=str(button),
        hidden={},
    )
    return page, 200


@bp.post("/<code>/<int:meeting_id>/<any(open, close, publish):step>")
def step(code: str, meeting_id: int, step: str) -> PageResult:
    area, meeting = _meeting(code, meeting_id, Action.manage_meetings)
    user_id = staff_user().id
    try:
        if step == "close":  # the close signs the log's checkpoint in its transaction
            signer = load_log_signer(current_app)
            done = close_meeting(db_session(), meeting, now(), user_id=user_id, signer=signer)
        else:
            action = open_meeting if step == "open" else publish_meeting
            done = action(db_session(), meeting, now(), user_id=user_id)
    except ServiceError as exc:
        return _refused_by(area, meeting, exc)
    flash(str(_STEP_DONE[step]), "success")
    if step == "publish" and done.publication_late:
        flash(_("The result was published after the 3-day deadline; this is recorded."), "warning")
    return redirect(url_for(".meeting_page", code=area.code, meeting_id=meeting.id))


# --- annulment ------------------------------------------------------------------------


def _annul_page(
    area: PropertyArea,
    meeting: Meeting,
    reason: str = "",
    *,
    error: str | None = None,
    status: int = 200,
) -> tuple[str, int]:
    page = render_template(
        "meetings_admin/annul.html",
        area=area,
        meeting=meeting,
        reason=reason,
        limit=MAX_REASON_LENGTH,
        error=error,
    )
    return page, status


@bp.get("/<code>/<int:meeting_id>/annul")
def annul_form(code: str, meeting_id: int) -> tuple[str, int]:
    area, meeting = _meeting(code, meeting_id, Action.annul_meeting)
    try:
        check_transition(meeting.state, MeetingState.annulled)
    except ProcedureError as exc:
        return _refused_by(area, meeting, exc)
    return _annul_page(area, meeting)


@bp.post("/<code>/<int:meeting_id>/annul")
def annul(code: str, meeting_id: int) -> PageResult:
    area, meeting = _meeting(code, meeting_id, Action.annul_meeting)
    reason = request.form.get("reason", "").replace("\r\n", "\n")
    try:
        annul_meeting(db_session(), meeting, reason, staff_user().id, now())
    except ServiceError as exc:
        status, text = refusal(str(exc))
        if status == 409:
            return _refused(area, meeting, text, status)
        return _annul_page(area, meeting, reason, error=text, status=status)
    flash(_("The meeting's decision is annulled."), "success")
    return redirect(url_for(".meeting_page", code=area.code, meeting_id=meeting.id))


# --- the residents' committee: posted notices -----------------------------------------


@bp.get("/notices")
def notices() -> str:
    """Posted notices of the areas in the user's scope, newest first (by community)."""
    require(Action.view_meetings)
    user = staff_user()
    session = db_session()
    areas = {area.id: area for area in session.scalars(visible_areas(user))}
    communities = sorted({area.community_id for area in areas.values()})
    found = [
        meeting
        for community in communities
        for meeting in notices_for_community(session, community)
        if meeting.property_area_id in areas
        and can(user, Action.view_meetings, areas[meeting.property_area_id])
    ]
    found.sort(key=lambda m: (m.notice_posted_at or dt.datetime.min.replace(tzinfo=dt.UTC), m.id))
    found.reverse()
    return render_template("meetings_admin/notices.html", meetings=found, areas=areas)
