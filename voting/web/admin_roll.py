"""Owner roll pages for staff: overview, versions, and the upload → check → confirm flow.

    GET  /admin/roll/                              → the user's own area (or home)
    GET  /admin/roll/<code>                        overview: current version, all versions
    GET  /admin/roll/<code>/versions/<n>           units of one version (names: details only)
    GET  /admin/roll/<code>/upload                 upload form
    POST /admin/roll/<code>/upload                 check the file; errors (422) or → check page
    GET  /admin/roll/<code>/uploads/<id>           the difference and the confirm button
    POST /admin/roll/<code>/uploads/<id>/confirm   apply it against the version it was checked with
    POST /admin/roll/<code>/uploads/<id>/discard   forget the upload

Each handler: load → require(...) → call voting.services.roll → render. A bad file is a
4xx page listing every error with its line; nothing is written.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from voting.database import db_session
from voting.domain.roll import ID_REASONS, MESSAGES, PHONE_REASONS, HolderState, RollError
from voting.models import PropertyArea
from voting.permissions import Action, can
from voting.services import NotFound, ServiceError
from voting.services.roll import (
    RollPreview,
    apply_roll_upload,
    current_version,
    discard_roll_upload,
    get_version,
    list_versions,
    preview_roll_upload,
    stage_roll_upload,
    version_entries,
)
from voting.web.auth import login_required
from voting.web.loaders import area_for, own_area_redirect, staff_user

bp = Blueprint("admin_roll", __name__, url_prefix="/admin/roll")

# How many errors and difference lines a page lists; units per page of a version.
ERROR_LIMIT = 200
DETAIL_LIMIT = 200
PAGE_SIZE = 500

_TRANSLATED_REASONS = frozenset((*ID_REASONS.values(), *PHONE_REASONS.values()))


def _id_hash_key() -> str:
    return str(current_app.config["VOTING_ID_HASH_KEY"])


def error_text(error: RollError) -> str:
    """One file error in the user's language, with its line."""
    params = {k: _(v) if v in _TRANSLATED_REASONS else v for k, v in error.params.items()}
    if error.code == "bad_area":
        message = _("invalid area (%(reason)s)", reason=params["reason"])
    else:
        message = _(MESSAGES[error.code], **params)
    if error.line is None:
        return message
    return _("Line %(line)d: %(message)s", line=error.line, message=message)


@dataclass(frozen=True)
class _Holders:
    """How holders are named on a page: ref always, name only with view_roll_details."""

    states: Mapping[str, HolderState]
    details: bool

    def label(self, identity: str) -> str:
        state = self.states.get(identity)
        if state is None:
            return "?"
        text = state.ref or _("new holder")
        if self.details:
            last4 = f" …{state.id_last4}" if state.id_last4 else ""
            text = f"{text} {state.name}{last4}"
        return text


def _render_check(
    area: PropertyArea,
    preview: RollPreview,
    *,
    upload_id: int | None = None,
    stale: bool = False,
    message: str | None = None,
    status: int = 200,
) -> tuple[str, int]:
    user = staff_user()
    return (
        render_template(
            "admin/roll_check.html",
            area=area,
            preview=preview,
            errors=[error_text(e) for e in preview.errors[:ERROR_LIMIT]],
            more_errors=max(len(preview.errors) - ERROR_LIMIT, 0),
            holders=_Holders(preview.holders, can(user, Action.view_roll_details, area)),
            limit=DETAIL_LIMIT,
            upload_id=upload_id,
            stale=stale,
            message=message,
        ),
        status,
    )


@bp.get("/")
@login_required
def index() -> Response:
    return own_area_redirect(".overview")


@bp.get("/<code>")
def overview(code: str) -> str:
    area = area_for(code, Action.view_area)
    session = db_session()
    return render_template(
        "admin/roll.html",
        area=area,
        current=current_version(session, area),
        versions=list_versions(session, area),
        can_manage=can(staff_user(), Action.manage_roll, area),
    )


@bp.get("/<code>/versions/<int:number>")
def version(code: str, number: int) -> str:
    area = area_for(code, Action.view_area)
    session = db_session()
    try:
        found = get_version(session, area, number)
    except NotFound:
        abort(404)
    entries = version_entries(session, found)
    pages = max((len(entries) + PAGE_SIZE - 1) // PAGE_SIZE, 1)
    page = request.args.get("page", 1, type=int) or 1
    if not 1 <= page <= pages:
        abort(404)
    return render_template(
        "admin/roll_version.html",
        area=area,
        version=found,
        entries=entries[(page - 1) * PAGE_SIZE : page * PAGE_SIZE],
        page=page,
        pages=pages,
        details=can(staff_user(), Action.view_roll_details, area),
    )


@bp.get("/<code>/upload")
def upload_form(code: str) -> str:
    area = area_for(code, Action.manage_roll)
    return render_template(
        "admin/roll_upload.html", area=area, current=current_version(db_session(), area)
    )


@bp.post("/<code>/upload")
def upload(code: str) -> Response | tuple[str, int]:
    area = area_for(code, Action.manage_roll)
    file = request.files.get("file")
    if file is None or not file.filename:
        message = _("Choose a roll file (CSV or XLSX) to upload.")
        page = render_template(
            "admin/roll_upload.html",
            area=area,
            current=current_version(db_session(), area),
            error=message,
        )
        return page, 400
    content = file.read()
    preview, upload_id = stage_roll_upload(
        db_session(), area, file.filename, content, _id_hash_key(), user_id=staff_user().id
    )
    if preview.errors:
        return _render_check(area, preview, status=422)
    if upload_id is None:
        message = _("The roll is unchanged: this file is the same as the current version.")
        return _render_check(area, preview, message=message, status=409)
    return redirect(url_for(".check", code=area.code, upload_id=upload_id))


@bp.get("/<code>/uploads/<int:upload_id>")
def check(code: str, upload_id: int) -> tuple[str, int]:
    area = area_for(code, Action.manage_roll)
    try:
        _upload, preview, base = preview_roll_upload(db_session(), area, upload_id, _id_hash_key())
    except NotFound:
        abort(404)
    except ServiceError as exc:
        return _render_check(area, _empty_preview(area), message=str(exc), status=409)
    stale = base != preview.base_version
    message = None
    if stale:
        message = _(
            "The roll has changed since this file was checked. Upload the file again to see "
            "the difference from the current version."
        )
    return _render_check(area, preview, upload_id=upload_id, stale=stale, message=message)


def _empty_preview(area: PropertyArea) -> RollPreview:
    current = current_version(db_session(), area)
    return RollPreview("", "", 0, (), current.number if current else None)


@bp.post("/<code>/uploads/<int:upload_id>/confirm")
def confirm(code: str, upload_id: int) -> Response | tuple[str, int]:
    area = area_for(code, Action.manage_roll)
    try:
        created = apply_roll_upload(
            db_session(), area, upload_id, _id_hash_key(), user_id=staff_user().id
        )
    except NotFound:
        flash(_("This upload no longer exists; please upload the file again."), "warning")
        return redirect(url_for(".upload_form", code=area.code))
    except ServiceError:
        message = _(
            "The roll has changed since this file was checked, so it was not applied. Upload "
            "the file again to see the difference from the current version."
        )
        return _render_check(area, _empty_preview(area), message=message, status=409)
    flash(
        _(
            "Roll version %(number)d imported: %(units)d units, %(headcount)d vote holders.",
            number=created.number,
            units=created.unit_count,
            headcount=created.headcount,
        ),
        "success",
    )
    return redirect(url_for(".overview", code=area.code))


@bp.post("/<code>/uploads/<int:upload_id>/discard")
def discard(code: str, upload_id: int) -> Response:
    area = area_for(code, Action.manage_roll)
    with contextlib.suppress(NotFound):
        discard_roll_upload(db_session(), area, upload_id)
    flash(_("The upload was discarded; nothing was imported."), "info")
    return redirect(url_for(".overview", code=area.code))
