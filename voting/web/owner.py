"""Owners on their phones: log in with the owner card and PIN, and the owner's home page.

    GET  /card              the card login page (QR link /card#1.<number>.<seed>, or typed)
    POST /card/challenge    JSON {card} → {platform, card_number, nonce, time, expires, statement}
    POST /card/login        JSON {statement, signature, pin} (base64url) → {redirect}
    GET  /owner             the owner's home: masked name, units, card number and status
    POST /owner/logout      end the owner's session

The card's seed never reaches the server: the page's script signs the challenge (see
docs/PROTOCOL.md, section 6). JSON endpoints answer every refusal with a 4xx status and
{"error": <message in the page's language>}. The rate limits count `request.remote_addr`:
behind a reverse proxy, configure werkzeug's ProxyFix so that it is the real client.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from flask import (
    Blueprint,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.wrappers import Response

from crypto.cardcode import check_card_number
from crypto.errors import InvalidCardCode
from crypto.keys import SIGNATURE_SIZE
from crypto.statements import MAX_STATEMENT_SIZE, format_time
from voting.cards.printing import mask_name
from voting.database import db_session
from voting.models import HolderKind, PropertyArea
from voting.services.card_login import (
    RATE_WINDOW,
    LoginRefused,
    issue_challenge,
    log_in_with_card,
    owner_units,
)
from voting.web.auth import card_required, current_card, session_restarted

bp = Blueprint("owner", __name__)

_PIN = re.compile(r"[0-9]{6}")
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")

_INVALID_REQUEST = _l("The login request is not valid. Please reload the page and try again.")

# Refusal reason → (status, message).
REFUSALS: dict[str, tuple[int, Any]] = {
    "malformed": (400, _INVALID_REQUEST),
    "unknown_card": (
        404,
        _l("There is no owner card with this number. Please check the card number."),
    ),
    "unknown_challenge": (400, _INVALID_REQUEST),
    "expired_challenge": (410, _l("The login took too long. Please try again.")),
    "used_challenge": (409, _l("This login attempt has already been used. Please try again.")),
    "bad_signature": (
        401,
        _l(
            "The card key does not match this card. Check the backup code, or ask your "
            "owners' committee whether the card has been replaced."
        ),
    ),
    "certificate": (
        403,
        _l("This owner card is no longer valid. Please ask your owners' committee for a new one."),
    ),
    "revoked": (
        403,
        _l("This owner card has been revoked. Please contact your owners' committee."),
    ),
    "locked": (
        423,
        _l("The card is locked. Unlock it with the PUK or contact the owners' committee."),
    ),
    "wrong_pin": (401, _l("Wrong PIN. Attempts left before the card is locked: %(remaining)d.")),
    "rate_limited": (
        429,
        _l("Too many login attempts. Please wait %(minutes)d minutes and try again."),
    ),
}


def _json(payload: dict[str, Any], status: int = 200) -> tuple[Response, int]:
    response = jsonify(payload)
    response.headers["Cache-Control"] = "no-store"
    return response, status


def _error(message: str, status: int) -> tuple[Response, int]:
    return _json({"error": message}, status)


def _refused(refusal: LoginRefused) -> tuple[Response, int]:
    status, message = REFUSALS[refusal.reason]
    values = {
        "remaining": refusal.remaining or 0,
        "minutes": int(RATE_WINDOW.total_seconds() // 60),
    }
    return _error(str(message) % values, status)


def _body() -> dict[str, Any] | None:
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else None


def _base64url(value: object, limit: int) -> bytes | None:
    """Strict unpadded base64url of at most `limit` bytes, or None."""
    if not isinstance(value, str) or len(value) > (limit * 4 + 2) // 3:
        return None
    if not _BASE64URL.fullmatch(value) or len(value) % 4 == 1:
        return None
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        return None
    if base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii") != value:
        return None
    return raw


def _platform() -> str:
    return str(current_app.config["VOTING_PLATFORM_ID"])


@bp.get("/card")
def card() -> str:
    return render_template("owner/card.html", platform=_platform(), card=current_card())


@bp.post("/card/challenge")
def challenge() -> tuple[Response, int]:
    body = _body()
    number = body.get("card") if body is not None else None
    try:
        number = check_card_number(number.strip().upper() if isinstance(number, str) else "")
    except InvalidCardCode:
        return _error(_("Please check the card number: for example NHXY-000123."), 400)
    try:
        issued = issue_challenge(
            db_session(),
            number,
            request.remote_addr or "",
            platform=_platform(),
            max_per_address=int(current_app.config["VOTING_CHALLENGES_PER_ADDRESS"]),
        )
    except LoginRefused as refusal:
        return _refused(refusal)
    return _json(
        {
            "platform": issued.platform,
            "card_number": issued.card_number,
            "nonce": issued.nonce,
            "time": issued.time,
            "expires": format_time(issued.expires_at),
            "statement": issued.statement(),
        }
    )


@bp.post("/card/login")
def login() -> tuple[Response, int]:
    body = _body() or {}
    statement = _base64url(body.get("statement"), MAX_STATEMENT_SIZE)
    signature = _base64url(body.get("signature"), SIGNATURE_SIZE)
    pin = body.get("pin")
    if statement is None or signature is None:
        return _error(str(_INVALID_REQUEST), 400)
    if not isinstance(pin, str) or not _PIN.fullmatch(pin):
        return _error(_("Please enter the 6-digit PIN."), 400)
    try:
        found = log_in_with_card(db_session(), statement, signature, pin, platform=_platform())
    except LoginRefused as refusal:
        return _refused(refusal)
    session.log_in_card(found.id)  # type: ignore[attr-defined]
    session_restarted(card=found)
    return _json({"redirect": url_for("owner.home")})


@bp.get("/owner")
@card_required
def home() -> str:
    found = current_card()
    assert found is not None
    db = db_session()
    version, units = owner_units(db, found)
    holder = found.holder
    return render_template(
        "owner/home.html",
        card=found,
        area=db.get(PropertyArea, found.property_area_id),
        masked_name=mask_name(holder.name, entity=holder.kind is not HolderKind.person),
        roll=version,
        units=units,
        total_area_centi=sum(unit.area_centi for unit in units),
    )


@bp.post("/owner/logout")
def logout() -> Response:
    session.log_out()  # type: ignore[attr-defined]
    session_restarted()
    flash(_("You have logged out."), "info")
    return redirect(url_for("owner.card"))
