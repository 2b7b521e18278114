"""Owner card pages for staff: the area's cards, issuing, and lock/unlock/revoke/reissue.

    GET  /admin/cards/                              → the user's own area (or home)
    GET  /admin/cards/<code>                        the area's cards
    GET  /admin/cards/<code>/issue                  confirmation: how many cards will be issued
    POST /admin/cards/<code>/issue                  issue; the response is a ZIP (cards.pdf +
                                                    pin-letters.pdf), the only copy of the secrets
    GET  /admin/cards/<code>/<number>/<action>      confirmation with a required reason
    POST /admin/cards/<code>/<number>/<action>      lock, unlock, revoke; reissue answers a ZIP

Nothing secret is kept on the server: the PDFs are rendered in memory and sent once.
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from collections.abc import Sequence

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from voting.database import db_session
from voting.models import Card, CardStatus, PropertyArea
from voting.permissions import Action, can
from voting.services import NotFound, ServiceError
from voting.services.cards import (
    CardConflict,
    IssuedCard,
    card_by_number,
    card_faces,
    cards_of_area,
    houses_by_holder,
    issue_cards,
    load_issuer,
    lock_by_admin,
    parse_card_number,
    pending_holders,
    reissue_card,
    revoke_card,
    unlock_by_admin,
)
from voting.web.auth import login_required
from voting.web.errors import render_error
from voting.web.loaders import area_for, own_area_redirect, staff_user

bp = Blueprint("admin_cards", __name__, url_prefix="/admin/cards")

ACTIONS = ("lock", "unlock", "revoke", "reissue")


def _card(area: PropertyArea, number: str) -> Card:
    try:
        card = card_by_number(db_session(), parse_card_number(number))
    except NotFound:
        card = None
    if card is None or card.property_area_id != area.id:
        abort(404)
    return card


def _titles() -> dict[str, str]:
    return {
        "lock": _("Lock card"),
        "unlock": _("Unlock card"),
        "revoke": _("Revoke card"),
        "reissue": _("Reissue card"),
    }


@bp.get("/")
@login_required
def index() -> Response:
    return own_area_redirect(".overview")


@bp.get("/<code>")
def overview(code: str) -> str:
    area = area_for(code, Action.view_cards)
    session = db_session()
    user = staff_user()
    return render_template(
        "admin/cards.html",
        area=area,
        cards=cards_of_area(session, area),
        houses=houses_by_holder(session, area),
        pending=len(pending_holders(session, area)),
        can_manage=can(user, Action.manage_cards, area),
        details=can(user, Action.view_roll_details, area),
    )


def _zip(issued: Sequence[IssuedCard], area: PropertyArea, name: str) -> Response:
    """The cards and PIN letters as one ZIP attachment, built in memory and sent once."""
    from voting.cards.printing import render_cards_pdf, render_pin_letters_pdf
    from voting.services.cards import pin_letters

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        faces = card_faces(issued, area.name)
        if faces:
            pdf = io.BytesIO()
            render_cards_pdf(faces, pdf)
            archive.writestr("cards.pdf", pdf.getvalue())
        pdf = io.BytesIO()
        render_pin_letters_pdf(pin_letters(issued, area.name), pdf)
        archive.writestr("pin-letters.pdf", pdf.getvalue())
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    response = Response(buffer.getvalue(), mimetype="application/zip")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="{name}-{area.code}-{stamp}.zip"'
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/<code>/issue")
def issue_form(code: str) -> str:
    area = area_for(code, Action.manage_cards)
    return render_template(
        "admin/cards_issue.html", area=area, pending=len(pending_holders(db_session(), area))
    )


@bp.post("/<code>/issue")
def issue(code: str) -> Response | tuple[Response | str, int]:
    area = area_for(code, Action.manage_cards)
    try:
        issued = issue_cards(
            db_session(),
            area,
            load_issuer(current_app),
            base_url=request.host_url,
            user_id=staff_user().id,
        )
    except ServiceError as exc:
        return render_error(409, str(exc))
    if not issued:
        flash(_("Every vote holder already has an active card; no card was issued."), "info")
        return redirect(url_for(".overview", code=area.code))
    return _zip(issued, area, "cards")


@bp.get("/<code>/<number>/<action>")
def confirm_form(code: str, number: str, action: str) -> str:
    return _confirm_page(code, number, action)[0]


def _confirm_page(
    code: str, number: str, action: str, error: str | None = None, status: int = 200
) -> tuple[str, int]:
    if action not in ACTIONS:
        abort(404)
    area = area_for(code, Action.manage_cards)
    card = _card(area, number)
    return (
        render_template(
            "admin/cards_action.html",
            area=area,
            card=card,
            action=action,
            title=_titles()[action],
            error=error,
        ),
        status,
    )


@bp.post("/<code>/<number>/<action>")
def act(code: str, number: str, action: str) -> Response | tuple[Response | str, int]:
    if action not in ACTIONS:
        abort(404)
    area = area_for(code, Action.manage_cards)
    card = _card(area, number)
    reason = request.form.get("reason", "").strip()
    if not reason:
        return _confirm_page(code, number, action, _("Please give a reason."), 400)
    if len(reason) > 500:
        return _confirm_page(
            code, number, action, _("The reason must be at most 500 characters."), 400
        )
    if card.status is CardStatus.revoked and action != "reissue":
        return render_error(409, _("Card %(number)s is already revoked.", number=card.number))
    session = db_session()
    user_id = staff_user().id
    try:
        if action == "reissue":
            issued = reissue_card(
                session,
                card,
                load_issuer(current_app),
                reason=reason,
                user_id=user_id,
                base_url=request.host_url,
            )
            return _zip([issued], area, "reissued-card")
        if action == "lock":
            lock_by_admin(session, card, reason=reason, user_id=user_id)
            message = _("Card %(number)s is locked.", number=card.number)
        elif action == "unlock":
            unlock_by_admin(session, card, reason=reason, user_id=user_id)
            message = _("Card %(number)s is unlocked.", number=card.number)
        else:
            revoke_card(session, card, reason=reason, user_id=user_id)
            message = _("Card %(number)s is revoked; its sessions have ended.", number=card.number)
    except CardConflict:
        return render_error(409, _conflict_text(action, card))
    except ServiceError as exc:
        return render_error(400, str(exc))
    flash(message, "success")
    return redirect(url_for(".overview", code=area.code))


def _conflict_text(action: str, card: Card) -> str:
    if action == "lock":
        return _("Card %(number)s is already locked.", number=card.number)
    if action == "unlock":
        return _("Card %(number)s is not locked.", number=card.number)
    if action == "reissue":
        return _(
            "The holder of card %(number)s already has another active card, or is no longer "
            "in the current roll.",
            number=card.number,
        )
    return _("Card %(number)s is already revoked.", number=card.number)
