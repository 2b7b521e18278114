"""Paper ballots for staff: the sheets of a meeting, the double entry and the resolution.

    GET  /admin/meetings/<code>/<id>/paper                   the sheets and where each stands
    GET  /admin/meetings/<code>/<id>/paper/enter[?voter=…]   find the voter, then the form
    POST /admin/meetings/<code>/<id>/paper/enter             store one staff member's entry
    GET  /admin/meetings/<code>/<id>/paper/<ref>/resolve     both entries side by side
    POST /admin/meetings/<code>/<id>/paper/<ref>/resolve     step "review" shows what will
                                                             happen; step "confirm" does it

Everyone who may see the area's meetings sees the list (statuses, refs, who entered when,
the choices that count); entering and resolving take `Action.enter_paper`. The list and the
form never show a pending entry's choices or image hash: the second staff member must
enter the sheet on their own. The image's SHA-256 is typed, or computed in the browser by
static/js/paper.js from the chosen file, which is never uploaded (the file input has no
name).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from werkzeug.wrappers import Response

from voting.database import db_session
from voting.domain.paper import MAX_REASON_LENGTH, Comparison, Decision, SheetStatus
from voting.domain.procedure import BEIJING, MeetingState
from voting.domain.tally import ABSTAIN, NO, YES, Choice, MotionKind
from voting.models import Holder, Meeting, Motion, PaperEntry, PaperSheet, PropertyArea, utcnow
from voting.permissions import Action, can
from voting.services import NotFound
from voting.services.ballots import eligible_motions
from voting.services.meetings import get_meeting
from voting.services.paper import (
    PaperRefused,
    SheetView,
    enter_paper,
    entry_choices,
    find_voter,
    resolve_paper,
    sheets_of_meeting,
    voter_houses,
)
from voting.web.loaders import area_for, staff_user

bp = Blueprint("paper", __name__, url_prefix="/admin/meetings")

STATUS_LABELS = {
    SheetStatus.pending: _l("Waiting for the second entry"),
    SheetStatus.matched: _l("Matched: counts"),
    SheetStatus.mismatch: _l("Entries differ: to be resolved"),
    SheetStatus.resolved: _l("Resolved: counts"),
    SheetStatus.discarded: _l("Discarded: to be entered again"),
}
DECISION_LABELS = {
    Decision.first: _l("Accept the first entry"),
    Decision.second: _l("Accept the second entry"),
    Decision.discard: _l("Discard both entries; the sheet is entered again twice"),
}
DECISION_DONE = {
    Decision.first: _l("first entry accepted"),
    Decision.second: _l("second entry accepted"),
    Decision.discard: _l("both entries discarded"),
}
CHOICE_LABELS = {YES: _l("In favour"), NO: _l("Against"), ABSTAIN: _l("Abstain")}
# Messages for the refusals of voting.services.paper, by reason code.
REFUSALS = {
    "image_hash": _l(
        "The image hash must be the SHA-256 of the scanned sheet: exactly 64 hexadecimal "
        "digits (0-9, a-f)."
    ),
    "same_user": _l("The second entry must be made by another staff member."),
    "unresolved": _l(
        "The two entries of this sheet differ. A committee admin who made neither entry must "
        "resolve it before anything else is entered."
    ),
    "complete": _l(
        "This voter's paper ballot has already been entered twice and counts; a third entry "
        "is refused."
    ),
    "not_open": _l(
        "Paper ballots can be entered and resolved only while voting is open, until the "
        "voting window closes."
    ),
    "voter": _l("No voter with this house number or holder ref is in the meeting's owner roll."),
    "empty": _l("Mark at least one motion: a sheet without any choice cannot be entered."),
    "unknown_motion": _l("The form names a motion that is not on this meeting's agenda."),
    "image_used": _l(
        "This scanned image is already entered for another voter. If that entry is wrong, a "
        "committee admin who did not make it can discard it."
    ),
    "own_entry": _l("The sheet must be resolved by a committee admin who made neither entry."),
    "nothing_to_choose": _l("A sheet with a single entry can only be discarded."),
    "state": _l("Only a sheet whose entries differ, or that has a single entry, can be resolved."),
    "reason": _l("Please give a reason."),
    "reason_length": _l("The reason must be at most 500 characters."),
    "decision": _l("Please choose which entry is right, or discard both."),
    "no_sheet": _l("This voter has no paper ballot entered for this meeting."),
    "user": _l("Your account may not enter paper ballots in this area."),
}


class FormError(Exception):
    """A form that cannot be turned into an entry; the message is shown with a 400."""


def _meeting(code: str, meeting_id: int, action: Action) -> tuple[PropertyArea, Meeting]:
    area = area_for(code, action)
    try:
        return area, get_meeting(db_session(), area, meeting_id)
    except NotFound:
        abort(404)


def _open(meeting: Meeting) -> bool:
    closes = meeting.window_closes_at
    return meeting.state is MeetingState.open and closes is not None and utcnow() < closes


def _motion_name(motion: Motion) -> str:
    return _("Motion %(position)d «%(title)s»", position=motion.position, title=motion.title)


def _refusal_text(exc: PaperRefused) -> str:
    if exc.reason == "scope" and exc.motion is not None:
        return _(
            "The voter has no unit in the scope of %(motion)s: leave it unmarked.",
            motion=_motion_name(exc.motion),
        )
    if exc.reason == "choice" and exc.motion is not None:
        return _("The choice on %(motion)s is not valid.", motion=_motion_name(exc.motion))
    text = REFUSALS.get(exc.reason)
    return str(text) if text is not None else str(exc)


def choice_label(choice: Choice | None) -> str:
    """A choice as the page shows it."""
    if choice is None:
        return _("Not marked")
    if isinstance(choice, frozenset):
        return "、".join(sorted(choice))
    label = CHOICE_LABELS.get(choice)
    return str(label) if label is not None else choice


def differences_text(comparison: Comparison, motions: Mapping[int, Motion]) -> str:
    """The motions (and the image hash) on which two entries differ, for a message."""
    parts = [_motion_name(motions[m]) for m in comparison.motions if m in motions]
    if comparison.image:
        parts.append(_("the image hash"))
    return "; ".join(parts)


def when(moment: dt.datetime | None) -> str:
    """Beijing time to the minute."""
    return "" if moment is None else moment.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")


def _helpers() -> dict[str, Any]:
    return {
        "when": when,
        "status_labels": STATUS_LABELS,
        "choice_label": choice_label,
        "entry_choices": entry_choices,
        "motion_name": _motion_name,
        "kinds": MotionKind,
        "differences_text": differences_text,
        "decision_labels": DECISION_LABELS,
        "decision_done": DECISION_DONE,
    }


# --- the list ----------------------------------------------------------------------------


@bp.get("/<code>/<int:meeting_id>/paper")
def sheets(code: str, meeting_id: int) -> str:
    area, meeting = _meeting(code, meeting_id, Action.view_meetings)
    session = db_session()
    views = sheets_of_meeting(session, meeting)
    user = staff_user()
    counts = {status: 0 for status in SheetStatus}
    for view in views:
        counts[view.sheet.status] += 1
    return render_template(
        "paper/sheets.html",
        area=area,
        meeting=meeting,
        views=views,
        counts=counts,
        motions={m.id: m for m in meeting.motions},
        houses=voter_houses(session, meeting, (v.sheet.holder_id for v in views)),
        names=_names(views) if can(user, Action.view_roll_details, area) else {},
        can_enter=can(user, Action.enter_paper, area),
        is_open=_open(meeting),
        user_id=user.id,
        **_helpers(),
    )


def _names(views: list[SheetView]) -> dict[int, str]:
    return {view.sheet.holder_id: view.sheet.holder.name for view in views}


# --- the entry form ------------------------------------------------------------------------


def _entry_page(
    area: PropertyArea,
    meeting: Meeting,
    query: str,
    *,
    holder: Holder | None = None,
    error: str | None = None,
    selected: Mapping[str, list[str]] | None = None,
    image: str = "",
    status: int = 200,
) -> tuple[str, int]:
    session = db_session()
    user = staff_user()
    sheet = None
    own_entry = False
    motions: list[Motion] = []
    houses: list[str] = []
    if holder is not None:
        motions = eligible_motions(session, meeting, holder.id)
        houses = voter_houses(session, meeting, [holder.id]).get(holder.id, [])
        sheet = session.scalar(
            select(PaperSheet).where(
                PaperSheet.meeting_id == meeting.id, PaperSheet.holder_id == holder.id
            )
        )
        own_entry = sheet is not None and bool(
            session.scalar(
                select(PaperEntry.id).where(
                    PaperEntry.sheet_id == sheet.id,
                    PaperEntry.round == sheet.round,
                    PaperEntry.entered_by_id == user.id,
                )
            )
        )
    return (
        render_template(
            "paper/enter.html",
            area=area,
            meeting=meeting,
            query=query,
            holder=holder,
            houses=houses,
            motions=motions,
            sheet=sheet,
            own_entry=own_entry,
            details=can(user, Action.view_roll_details, area),
            error=error,
            selected=selected or {},
            image=image,
            is_open=_open(meeting),
            **_helpers(),
        ),
        status,
    )


@bp.get("/<code>/<int:meeting_id>/paper/enter")
def enter_form(code: str, meeting_id: int) -> tuple[str, int]:
    area, meeting = _meeting(code, meeting_id, Action.enter_paper)
    query = request.args.get("voter", "").strip()[:120]
    if not query:
        return _entry_page(area, meeting, "")
    holder = find_voter(db_session(), meeting, query)
    if holder is None:
        return _entry_page(area, meeting, query, error=str(REFUSALS["voter"]), status=404)
    return _entry_page(area, meeting, query, holder=holder)


def _form_choices(form: Mapping[str, list[str]], motions: Mapping[int, Motion]) -> dict[int, Any]:
    """{motion id: choice} from the fields "choice-<motion id>"; unmarked motions are left
    out. Elections: the ticked candidates in ascending order, or "abstain" alone."""
    choices: dict[int, Any] = {}
    for name, values in form.items():
        if not name.startswith("choice-"):
            continue
        key = name.removeprefix("choice-")
        if not (key.isascii() and key.isdigit() and len(key) < 16):
            raise FormError(str(REFUSALS["unknown_motion"]))
        marked = [value for value in values if value]
        if not marked:
            continue
        motion = motions.get(int(key))
        if motion is not None and motion.kind is MotionKind.ELECTION:
            if ABSTAIN in marked:
                if len(marked) > 1:
                    raise FormError(
                        _(
                            "%(motion)s: abstain and candidates are both marked.",
                            motion=_motion_name(motion),
                        )
                    )
                choices[motion.id] = ABSTAIN
            else:
                choices[motion.id] = sorted(set(marked))
            continue
        if len(marked) > 1:
            raise FormError(_("A motion may have one choice only."))
        choices[int(key)] = marked[0]
    return choices


@bp.post("/<code>/<int:meeting_id>/paper/enter")
def enter(code: str, meeting_id: int) -> Response | tuple[str, int]:
    area, meeting = _meeting(code, meeting_id, Action.enter_paper)
    session = db_session()
    ref = request.form.get("voter", "").strip()[:40]
    image = request.form.get("image_sha256", "").strip()[:200]
    selected = request.form.to_dict(flat=False)
    holder = find_voter(session, meeting, ref) if ref else None
    if holder is None:
        return _entry_page(area, meeting, ref, error=str(REFUSALS["voter"]), status=404)

    def again(error: str, status: int) -> tuple[str, int]:
        return _entry_page(
            area,
            meeting,
            ref,
            holder=holder,
            error=error,
            selected=selected,
            image=image,
            status=status,
        )

    motions = {m.id: m for m in meeting.motions}
    try:
        choices = _form_choices(selected, motions)
    except FormError as exc:
        return again(str(exc), 400)
    try:
        outcome = enter_paper(
            session, meeting, holder.ref, choices, image, staff_user().id, utcnow()
        )
    except PaperRefused as exc:
        return again(_refusal_text(exc), exc.status)
    if outcome.status is SheetStatus.matched:
        flash(
            _("Both entries for %(ref)s agree: the paper ballot counts.", ref=holder.ref), "success"
        )
    elif outcome.status is SheetStatus.mismatch:
        assert outcome.comparison is not None
        flash(
            _(
                "Entries differ for %(ref)s: %(what)s. Nothing of this sheet counts until a "
                "committee admin who made neither entry resolves it.",
                ref=holder.ref,
                what=differences_text(outcome.comparison, motions),
            ),
            "warning",
        )
    else:
        flash(
            _(
                "Entry saved for %(ref)s. The sheet counts once another staff member has "
                "entered it the same way.",
                ref=holder.ref,
            ),
            "success",
        )
    return redirect(url_for(".enter_form", code=area.code, meeting_id=meeting.id))


# --- the resolution ----------------------------------------------------------------------


def _view(meeting: Meeting, ref: str) -> SheetView:
    for view in sheets_of_meeting(db_session(), meeting):
        if view.holder_ref == ref:
            return view
    abort(404)


def _resolve_page(
    area: PropertyArea,
    meeting: Meeting,
    view: SheetView,
    *,
    step: str = "choose",
    decision: Decision | None = None,
    reason: str = "",
    error: str | None = None,
    status: int = 200,
) -> tuple[str, int]:
    user = staff_user()
    motions = {m.id: m for m in meeting.motions}
    return (
        render_template(
            "paper/resolve.html",
            area=area,
            meeting=meeting,
            view=view,
            motions=motions,
            houses=voter_houses(db_session(), meeting, [view.sheet.holder_id]).get(
                view.sheet.holder_id, []
            ),
            own=any(e.entered_by_id == user.id for e in view.entries),
            resolvable=view.sheet.status in (SheetStatus.mismatch, SheetStatus.pending),
            decisions=(
                [Decision.first, Decision.second, Decision.discard]
                if view.sheet.status is SheetStatus.mismatch
                else [Decision.discard]
            ),
            differs=set(view.comparison.motions) if view.comparison else set(),
            step=step,
            decision=decision,
            reason=reason,
            max_reason=MAX_REASON_LENGTH,
            error=error,
            is_open=_open(meeting),
            **_helpers(),
        ),
        status,
    )


@bp.get("/<code>/<int:meeting_id>/paper/<ref>/resolve")
def resolve_form(code: str, meeting_id: int, ref: str) -> tuple[str, int]:
    area, meeting = _meeting(code, meeting_id, Action.enter_paper)
    return _resolve_page(area, meeting, _view(meeting, ref))


@bp.post("/<code>/<int:meeting_id>/paper/<ref>/resolve")
def resolve(code: str, meeting_id: int, ref: str) -> Response | tuple[str, int]:
    area, meeting = _meeting(code, meeting_id, Action.enter_paper)
    view = _view(meeting, ref)
    reason = request.form.get("reason", "").strip()
    try:
        decision = Decision(request.form.get("decision", ""))
    except ValueError:
        return _resolve_page(
            area, meeting, view, reason=reason, error=str(REFUSALS["decision"]), status=400
        )
    if not reason:
        return _resolve_page(
            area, meeting, view, decision=decision, error=str(REFUSALS["reason"]), status=400
        )
    if len(reason) > MAX_REASON_LENGTH:
        return _resolve_page(
            area,
            meeting,
            view,
            decision=decision,
            reason=reason[:MAX_REASON_LENGTH],
            error=str(REFUSALS["reason_length"]),
            status=400,
        )
    if any(entry.entered_by_id == staff_user().id for entry in view.entries):
        return _resolve_page(area, meeting, view, error=str(REFUSALS["own_entry"]), status=403)
    if view.sheet.status not in (SheetStatus.mismatch, SheetStatus.pending):
        return _resolve_page(area, meeting, view, error=str(REFUSALS["state"]), status=409)
    if request.form.get("step") != "confirm":
        return _resolve_page(area, meeting, view, step="review", decision=decision, reason=reason)
    try:
        resolve_paper(db_session(), meeting, ref, decision, reason, staff_user().id, utcnow())
    except PaperRefused as exc:
        return _resolve_page(
            area,
            meeting,
            view,
            decision=decision,
            reason=reason,
            error=_refusal_text(exc),
            status=exc.status,
        )
    if decision is Decision.discard:
        flash(
            _(
                "Both entries for %(ref)s are discarded; the sheet must be entered again by two "
                "staff members.",
                ref=ref,
            ),
            "success",
        )
    else:
        flash(_("The sheet of %(ref)s is resolved and counts.", ref=ref), "success")
    return redirect(url_for(".sheets", code=area.code, meeting_id=meeting.id))
