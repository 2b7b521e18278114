"""Proxy authorisations (委托书): the owner's page, its JSON endpoints, and the staff pages.

Owner (card session):
    GET  /vote/<meeting id>/proxy              the authorisation in force, or the form to make
                                               one: the proxy by house number (or the number
                                               of a person the committee registered), and an
                                               optional instruction per motion
    POST /vote/<meeting id>/proxy              check the form → confirmation page; its script
                                               (static/js/proxy.js) signs with the card key
    GET  /vote/<meeting id>/proxy/withdraw     confirmation
    POST /vote/<meeting id>/proxy/withdraw     withdraw (only before the proxy has voted)

JSON (same conventions as voting.web.api: {"error": <reason>, "message": <text>}, bodies
`application/json` of at most 64 KiB, card session else 401, no form token):
    POST /api/v1/meetings/<id>/proxy-challenge   {} → the members to sign, with a nonce
    POST /api/v1/proxies                         {"statement", "signature"} (base64url) → 201

Staff:
    GET  /admin/meetings/<area>/<meeting id>/proxies          every authorisation (house
                                                              numbers, never names)
    GET  /admin/meetings/<area>/<meeting id>/proxies/person   register a named person who is
    POST /admin/meetings/<area>/<meeting id>/proxies/person   not an owner → ZIP with their card

The server never signs for an owner: the statement is built and signed in the browser
(docs/PROTOCOL.md section 6.6) and checked by `voting.services.proxies`.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import io
import json
import re
import zipfile
from dataclasses import dataclass
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from werkzeug.routing import BuildError
from werkzeug.wrappers import Response

from crypto.canonical import JSONValue
from crypto.keys import SIGNATURE_SIZE
from crypto.statements import MAX_STATEMENT_SIZE, format_time
from voting.cards.printing import mask_name
from voting.database import db_session
from voting.domain.procedure import BEIJING, MeetingState
from voting.domain.proxy import MotionChoices, ProxyError, parse_instructions
from voting.domain.tally import ABSTAIN, NO, YES, MotionKind
from voting.models import (
    Ballot,
    Card,
    CardStatus,
    Holder,
    HolderKind,
    Meeting,
    Motion,
    PropertyArea,
    Proxy,
    utcnow,
)
from voting.permissions import Action, can
from voting.services import NotFound
from voting.services.ballots import ballot_nonce_key, eligible_motions, voter_buildings
from voting.services.cards import card_faces, load_issuer, pin_letters
from voting.services.meetings import get_meeting
from voting.services.proxies import (
    ProxyRefused,
    active_proxy,
    authorise_proxy,
    holder_by_house,
    houses_in_meeting,
    instructions_of,
    meeting_buildings,
    named_people,
    named_person,
    proxies_held,
    proxies_of_meeting,
    proxy_challenge,
    register_named_person,
    withdraw_proxy,
)
from voting.web.auth import card_required, current_card
from voting.web.loaders import area_for, staff_user
from voting.web.security import csrf

bp = Blueprint("proxies", __name__)

#: Largest JSON body accepted (bytes), as in voting.web.api.
MAX_BODY = 64 * 1024
JSON_TYPE = "application/json"
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")
_CANDIDATES = "candidates"

_RELOAD = _l("The authorisation could not be checked. Please reload the page and try again.")

# Reason code → message; the status comes from the service's refusal.
MESSAGES: dict[str, Any] = {
    "malformed": _RELOAD,
    "platform": _RELOAD,
    "area": _RELOAD,
    "roll": _RELOAD,
    "unknown_nonce": _RELOAD,
    "card": _l("Please log in with your owner card."),
    "credential": _l("The backup code does not belong to the card you are logged in with."),
    "bad_signature": _l("The backup code does not match this card. Please check it and try again."),
    "certificate": _l(
        "This owner card is no longer valid. Please ask your owners' committee for a new one."
    ),
    "revoked": _l("This owner card has been revoked. Please contact your owners' committee."),
    "locked": _l("The card is locked. Unlock it with the PUK or contact the owners' committee."),
    "replayed": _l("This authorisation has already been submitted."),
    "unknown_meeting": _l("There is no such meeting."),
    "not_open": _l("A proxy can be authorised only while voting is open."),
    "closed": _l("The voting period has ended."),
    "expired": _l("The authorisation took too long. Please try again."),
    "owner": _l("The authorisation must be for your own vote."),
    "not_eligible": _l(
        "You have no unit in the owner roll of this meeting, so you cannot authorise a proxy."
    ),
    "unknown_proxy": _l("The proxy is not known in this property area."),
    "instruction": _l("An instruction is not valid for its motion."),
    "already_authorised": _l(
        "You have already authorised a proxy for this meeting. Withdraw that authorisation first."
    ),
    "cap": _l(
        "This proxy already represents as many owners as the rules of procedure allow. "
        "Please choose another proxy."
    ),
    "no_authorisation": _l("You have no authorisation in force for this meeting."),
    "proxy_voted": _l(
        "Your proxy has already voted under this authorisation, so it can no longer be "
        "withdrawn. You can still vote yourself: your own ballot replaces the proxy's."
    ),
    # requests
    "login_required": _l("Please log in with your owner card."),
    "not_found": _l("Not found."),
    "too_large": _l("The request body is larger than %(limit)d KiB."),
    "unsupported_media_type": _l("Send the request body as JSON (Content-Type: application/json)."),
    "invalid_json": _l("The request body is not valid JSON."),
    "invalid_request": _l("The request does not have the expected members and types."),
    "invalid_base64": _l("The statement and the signature must be base64url without padding."),
    "error": _l("The request could not be completed."),
}


def refusal_message(reason: str) -> str:
    text = MESSAGES.get(reason, MESSAGES["error"])
    return str(text) % {"limit": MAX_BODY // 1024} if reason == "too_large" else str(text)


def _now() -> dt.datetime:
    return utcnow()


def _platform() -> str:
    return str(current_app.config["VOTING_PLATFORM_ID"])


def _nonce_key() -> bytes:
    return ballot_nonce_key(current_app.config["SECRET_KEY"])


def _when(moment: dt.datetime | None) -> str:
    """Beijing time to the minute, as on the notice."""
    if moment is None:
        return ""
    return moment.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")


def _masked(holder: Holder) -> str:
    return mask_name(holder.name, entity=holder.kind is not HolderKind.person)


def choice_text(motion: Motion, value: JSONValue) -> str:
    """A choice as the owner reads it."""
    if value == ABSTAIN:
        return _("Abstain")
    if motion.kind is MotionKind.YES_NO:
        return _("In favour") if value == YES else _("Against") if value == NO else str(value)
    if isinstance(value, list):
        return "、".join(str(item) for item in value)
    return str(value)


# --- the owner's page ------------------------------------------------------------------------


@dataclass(frozen=True)
class PersonView:
    name: str  # masked
    houses: str  # house numbers, or the named person's number
    named: bool


@dataclass(frozen=True)
class InstructionView:
    position: int
    title: str
    choice: str


def _person(holder: Holder, houses: dict[int, tuple[str, ...]]) -> PersonView:
    own = houses.get(holder.id, ())
    return PersonView(_masked(holder), "、".join(own) or holder.ref, not own)


def _owner_meeting(card: Card, meeting_id: int) -> Meeting:
    """A noticed meeting of the card's area, else 404 (other areas' are not revealed)."""
    meeting = db_session().get(Meeting, meeting_id)
    if (
        meeting is None
        or meeting.property_area_id != card.property_area_id
        or meeting.state is MeetingState.draft
    ):
        abort(404)
    return meeting


def _card() -> Card:
    card = current_card()
    assert card is not None  # card_required
    return card


def _meeting_url(meeting_id: int) -> str | None:
    """The owner's voting page of the meeting (voting.web.vote), if that page exists."""
    try:
        return url_for("vote.meeting", meeting_id=meeting_id)
    except BuildError:
        return None


def _open_now(meeting: Meeting) -> bool:
    return (
        meeting.state is MeetingState.open
        and meeting.window_closes_at is not None
        and _now() < meeting.window_closes_at
    )


def _instruction_views(meeting: Meeting, values: dict[int, JSONValue]) -> list[InstructionView]:
    motions = {motion.id: motion for motion in meeting.motions}
    return [
        InstructionView(motions[mid].position, motions[mid].title, choice_text(motions[mid], v))
        for mid, v in sorted(values.items(), key=lambda item: motions[item[0]].position)
        if mid in motions
    ]


def _render_owner(
    card: Card,
    meeting: Meeting,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> tuple[str, int]:
    session = db_session()
    area = session.get(PropertyArea, meeting.property_area_id)
    current = active_proxy(session, meeting.id, card.holder_id)
    held = proxies_held(session, meeting.id, card.holder_id)
    people = [p.proxy_holder for p in ([current] if current else [])] + [p.owner for p in held]
    houses = houses_in_meeting(session, meeting, {h.id for h in people})
    eligible = meeting.roll_version_id is not None and bool(
        voter_buildings(session, meeting, card.holder_id)
    )
    current_view = None
    if current is not None:
        voted = session.scalar(
            select(func.count()).select_from(Ballot).where(Ballot.proxy_id == current.id)
        )
        current_view = {
            "proxy": _person(current.proxy_holder, houses),
            "instructions": _instruction_views(meeting, instructions_of(current)),
            "created": _when(current.created_at),
            "voted": bool(voted),
        }
    held_views = [
        {
            "owner": _person(p.owner, houses),
            "instructions": _instruction_views(meeting, instructions_of(p)),
        }
        for p in held
    ]
    motions = eligible_motions(session, meeting, card.holder_id) if eligible else []
    page = render_template(
        "proxies/owner.html",
        area=area,
        meeting=meeting,
        card=card,
        open_now=_open_now(meeting),
        eligible=eligible,
        current=current_view,
        held=held_views,
        motions=motions,
        buildings=meeting_buildings(session, meeting),
        cap=meeting.rules_proxy_cap,
        meeting_url=_meeting_url(meeting.id),
        values=values or {},
        errors=errors or {},
        when=_when,
    )
    return page, status


@bp.get("/vote/<int:meeting_id>/proxy")
@card_required
def owner_page(meeting_id: int) -> tuple[str, int]:
    card = _card()
    return _render_owner(card, _owner_meeting(card, meeting_id))


def _chosen_proxy(
    meeting: Meeting, area: PropertyArea, card: Card, values: dict[str, Any]
) -> tuple[Holder | None, str | None]:
    """The holder the form names as proxy, or an error for the "proxy" field."""
    session = db_session()
    building, unit, person = values["building"], values["unit"], values["person"]
    if person and (building or unit):
        return None, _("Give either a house number or a registered person's number, not both.")
    if person:
        holder = named_person(session, area, person)
        if holder is None:
            return None, _("No person registered by the owners' committee has this number.")
    elif building and unit:
        holder = holder_by_house(session, meeting, building, unit)
        if holder is None:
            return None, _("No owner is recorded for this house number.")
    else:
        return None, _(
            "Please choose the proxy: the building and house number of an owner, or the number "
            "of a person registered by the owners' committee."
        )
    if holder.id == card.holder_id:
        return None, _("You cannot be your own proxy.")
    return holder, None


def _form_instructions(
    motions: list[Motion], values: dict[str, Any]
) -> tuple[dict[int, JSONValue], dict[str, str]]:
    """The instructions the form gives, checked against the motions; errors by field."""
    wanted: dict[int, JSONValue] = {}
    for motion in motions:
        picked = request.form.get(f"instr-{motion.id}", "").strip()
        values[f"instr-{motion.id}"] = picked
        if motion.kind is MotionKind.ELECTION:
            ticked = sorted(set(request.form.getlist(f"cand-{motion.id}")))
            values[f"cand-{motion.id}"] = ticked
            if picked == _CANDIDATES:
                wanted[motion.id] = list(ticked)
                continue
        if picked:
            wanted[motion.id] = picked
    choices = {
        m.id: MotionChoices(m.kind, tuple(o.label for o in m.options), m.seats) for m in motions
    }
    errors: dict[str, str] = {}
    for motion_id, value in wanted.items():
        try:
            parse_instructions({motion_id: value}, choices)
        except ProxyError:
            motion = next(m for m in motions if m.id == motion_id)
            if motion.kind is MotionKind.ELECTION:
                errors[f"instr-{motion_id}"] = _(
                    "Tick between 1 and %(seats)d candidates.", seats=motion.seats
                )
            else:
                errors[f"instr-{motion_id}"] = _("This instruction is not valid for the motion.")
    return wanted, errors


@bp.post("/vote/<int:meeting_id>/proxy")
@card_required
def owner_confirm(meeting_id: int) -> tuple[str, int] | Response:
    card = _card()
    meeting = _owner_meeting(card, meeting_id)
    session = db_session()
    area = session.get(PropertyArea, meeting.property_area_id)
    assert area is not None
    if active_proxy(session, meeting.id, card.holder_id) is not None:
        flash(str(MESSAGES["already_authorised"]), "warning")
        return redirect(url_for(".owner_page", meeting_id=meeting.id))
    if not _open_now(meeting):
        return _render_owner(card, meeting, status=409)
    if not voter_buildings(session, meeting, card.holder_id):
        return _render_owner(card, meeting, status=403)
    values = {
        name: request.form.get(name, "").strip()[:100] for name in ("building", "unit", "person")
    }
    holder, problem = _chosen_proxy(meeting, area, card, values)
    motions = eligible_motions(session, meeting, card.holder_id)
    wanted, errors = _form_instructions(motions, values)
    if problem is not None:
        errors["proxy"] = problem
    elif holder is not None:
        held = session.scalar(
            select(func.count())
            .select_from(Proxy)
            .where(
                Proxy.meeting_id == meeting.id,
                Proxy.proxy_holder_id == holder.id,
                Proxy.withdrawn_at.is_(None),
            )
        )
        assert meeting.rules_proxy_cap is not None
        if (held or 0) >= meeting.rules_proxy_cap:
            errors["proxy"] = str(MESSAGES["cap"])
    if errors or holder is None:
        return _render_owner(card, meeting, values=values, errors=errors, status=400)
    houses = houses_in_meeting(session, meeting, {holder.id})
    return (
        render_template(
            "proxies/confirm.html",
            area=area,
            meeting=meeting,
            card=card,
            proxy=_person(holder, houses),
            proxy_ref=holder.ref,
            instructions=_instruction_views(meeting, wanted),
            signed_instructions={str(k): v for k, v in wanted.items()},
            platform=_platform(),
            motions=motions,
        ),
        200,
    )


@bp.get("/vote/<int:meeting_id>/proxy/withdraw")
@card_required
def withdraw_form(meeting_id: int) -> str | Response:
    card = _card()
    meeting = _owner_meeting(card, meeting_id)
    session = db_session()
    current = active_proxy(session, meeting.id, card.holder_id)
    if current is None:
        flash(str(MESSAGES["no_authorisation"]), "info")
        return redirect(url_for(".owner_page", meeting_id=meeting.id))
    houses = houses_in_meeting(session, meeting, {current.proxy_holder_id})
    return render_template(
        "proxies/withdraw.html",
        meeting=meeting,
        proxy=_person(current.proxy_holder, houses),
        created=_when(current.created_at),
    )


@bp.post("/vote/<int:meeting_id>/proxy/withdraw")
@card_required
def withdraw(meeting_id: int) -> Response | tuple[str, int]:
    card = _card()
    meeting = _owner_meeting(card, meeting_id)
    try:
        withdraw_proxy(db_session(), meeting.id, card_id=card.id, now=_now())
    except ProxyRefused as refusal:
        flash(refusal_message(refusal.reason), "error")
        return _render_owner(card, meeting, status=refusal.status)
    flash(_("Your authorisation has been withdrawn."), "success")
    return redirect(url_for(".owner_page", meeting_id=meeting.id))


# --- JSON ------------------------------------------------------------------------------------


class _Refused(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def _json(payload: Any, status: int = 200) -> tuple[Response, int]:
    response = jsonify(payload)
    response.headers["Cache-Control"] = "no-store"
    return response, status


def _api_error(status: int, reason: str) -> tuple[Response, int]:
    return _json({"error": reason, "message": refusal_message(reason)}, status)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate member {key!r}")
        result[key] = value
    return result


def _reject(text: str) -> Any:
    raise ValueError(f"{text} is not allowed")


def _api_card(members: set[str]) -> tuple[Card, dict[str, str]]:
    """The card of the session and the JSON body with exactly `members` (strings), after
    the body limit (413) and media type (415); else `_Refused`."""
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise _Refused(413, "too_large")
    charset = request.mimetype_params.get("charset", "utf-8").lower()
    if request.mimetype != JSON_TYPE or charset not in ("utf-8", "utf8"):
        raise _Refused(415, "unsupported_media_type")
    card = current_card()
    if card is None:
        raise _Refused(401, "login_required")
    data = request.stream.read(MAX_BODY + 1)
    if len(data) > MAX_BODY:
        raise _Refused(413, "too_large")
    try:
        body = json.loads(
            data.decode("utf-8"),
            object_pairs_hook=_no_duplicates,
            parse_constant=_reject,
            parse_float=_reject,
        )
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise _Refused(400, "invalid_json") from None
    if not isinstance(body, dict) or set(body) != members:
        raise _Refused(400, "invalid_request")
    if not all(isinstance(value, str) for value in body.values()):
        raise _Refused(400, "invalid_request")
    return card, body


def _base64url(value: str, limit: int) -> bytes:
    """Strict unpadded base64url of at most `limit` bytes."""
    if len(value) > (limit * 4 + 2) // 3 or len(value) % 4 == 1:
        raise _Refused(400, "invalid_base64")
    if not _BASE64URL.fullmatch(value):
        raise _Refused(400, "invalid_base64")
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        raise _Refused(400, "invalid_base64") from None
    if base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii") != value:
        raise _Refused(400, "invalid_base64")
    return raw


@bp.post("/api/v1/meetings/<int:meeting_id>/proxy-challenge")
def api_challenge(meeting_id: int) -> tuple[Response, int]:
    try:
        card, _body = _api_card(set())
        meeting = db_session().get(Meeting, meeting_id)
        if meeting is None or meeting.property_area_id != card.property_area_id:
            raise _Refused(404, "not_found")
        challenge = proxy_challenge(
            db_session(), card, meeting, platform=_platform(), key=_nonce_key(), now=_now()
        )
    except _Refused as refused:
        return _api_error(refused.status, refused.reason)
    except ProxyRefused as refusal:
        return _api_error(refusal.status, refusal.reason)
    return _json(
        {
            "platform": challenge.platform,
            "area": challenge.area,
            "meeting": challenge.meeting,
            "roll": challenge.roll,
            "owner": challenge.owner,
            "credential": challenge.credential,
            "nonce": challenge.nonce,
            "time": challenge.time,
            "expires": format_time(challenge.expires_at),
        }
    )


@bp.post("/api/v1/proxies")
def api_authorise() -> tuple[Response, int]:
    try:
        card, body = _api_card({"statement", "signature"})
        statement = _base64url(body["statement"], MAX_STATEMENT_SIZE)
        signature = _base64url(body["signature"], SIGNATURE_SIZE)
        granted = authorise_proxy(
            db_session(),
            statement,
            signature,
            card_id=card.id,
            platform=_platform(),
            key=_nonce_key(),
            now=_now(),
        )
    except _Refused as refused:
        return _api_error(refused.status, refused.reason)
    except ProxyRefused as refusal:
        return _api_error(refusal.status, refusal.reason)
    return _json(
        {
            "statement_hash": granted.statement_hash,
            "log_index": granted.log_index,
            "time": format_time(granted.created_at),
            "meeting": granted.meeting,
            "owner": granted.owner,
            "proxy": granted.proxy,
            "instructions": granted.instructions,
            "url": url_for(".owner_page", meeting_id=granted.meeting),
        },
        201,
    )


csrf.exempt(api_challenge)
csrf.exempt(api_authorise)


def _error_schema() -> dict[str, Any]:
    return {
        "description": "Refused; nothing was stored",
        "content": {
            JSON_TYPE: {
                "schema": {
                    "type": "object",
                    "required": ["error", "message"],
                    "properties": {
                        "error": {"type": "string", "description": "reason code"},
                        "message": {"type": "string", "description": "text in the UI language"},
                    },
                }
            }
        },
    }


_HEX64 = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
_B64URL = {"type": "string", "pattern": "^[A-Za-z0-9_-]*$"}
_TIME = {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$"}

#: Paths for the OpenAPI document assembled by voting.web.api.
OPENAPI_PATHS: dict[str, Any] = {
    "/api/v1/meetings/{meeting_id}/proxy-challenge": {
        "post": {
            "summary": "The members of an owner's proxy statement, with a fresh nonce",
            "description": (
                "For the logged-in owner's card (card session). The client builds the "
                "statement of docs/PROTOCOL.md section 6.6 from these members, the proxy's "
                "holder ref and the instructions, and signs it with the card key."
            ),
            "tags": ["proxies"],
            "parameters": [
                {
                    "name": "meeting_id",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "integer", "minimum": 1},
                }
            ],
            "requestBody": {
                "required": True,
                "content": {JSON_TYPE: {"schema": {"type": "object", "maxProperties": 0}}},
            },
            "responses": {
                "200": {
                    "description": "The challenge",
                    "content": {
                        JSON_TYPE: {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "platform": {"type": "string"},
                                    "area": {"type": "string"},
                                    "meeting": {"type": "integer"},
                                    "roll": _HEX64,
                                    "owner": {"type": "string"},
                                    "credential": _HEX64,
                                    "nonce": {"type": "string", "pattern": "^[0-9a-f]{32}$"},
                                    "time": _TIME,
                                    "expires": _TIME,
                                },
                            }
                        }
                    },
                },
                **{code: _error_schema() for code in ("400", "401", "403", "404", "409", "415")},
            },
        }
    },
    "/api/v1/proxies": {
        "post": {
            "summary": "Store an owner's signed proxy authorisation",
            "description": (
                "The statement bytes and the card's Ed25519 signature, base64url without "
                "padding. Checked as docs/PROTOCOL.md section 6.6 says; one authorisation in "
                "force per owner and meeting; at most the meeting's proxy cap per proxy."
            ),
            "tags": ["proxies"],
            "requestBody": {
                "required": True,
                "content": {
                    JSON_TYPE: {
                        "schema": {
                            "type": "object",
                            "required": ["statement", "signature"],
                            "additionalProperties": False,
                            "properties": {"statement": _B64URL, "signature": _B64URL},
                        }
                    }
                },
            },
            "responses": {
                "201": {
                    "description": "Stored and logged",
                    "content": {
                        JSON_TYPE: {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "statement_hash": _HEX64,
                                    "log_index": {"type": "integer"},
                                    "time": _TIME,
                                    "meeting": {"type": "integer"},
                                    "owner": {"type": "string"},
                                    "proxy": {"type": "string"},
                                    "instructions": {"type": "integer"},
                                    "url": {"type": "string"},
                                },
                            }
                        }
                    },
                },
                **{
                    code: _error_schema()
                    for code in ("400", "401", "403", "404", "409", "410", "413", "415", "423")
                },
            },
        }
    },
}


# --- staff -----------------------------------------------------------------------------------


def _staff_meeting(area: PropertyArea, meeting_id: int) -> Meeting:
    try:
        return get_meeting(db_session(), area, meeting_id)
    except NotFound:
        abort(404)


@bp.get("/admin/meetings/<code>/<int:meeting_id>/proxies")
def staff_list(code: str, meeting_id: int) -> str:
    area = area_for(code, Action.view_meetings)
    meeting = _staff_meeting(area, meeting_id)
    session = db_session()
    user = staff_user()
    rows = proxies_of_meeting(session, meeting)
    people = named_people(session, area)
    cards = {
        card.holder_id: card
        for card in session.scalars(
            select(Card).where(
                Card.holder_id.in_([p.id for p in people]), Card.status == CardStatus.active
            )
        )
    }
    return render_template(
        "proxies/staff.html",
        area=area,
        meeting=meeting,
        rows=rows,
        active=sum(1 for row in rows if row.withdrawn_at is None),
        people=people,
        cards=cards,
        can_register=can(user, Action.manage_cards, area),
        details=can(user, Action.view_roll_details, area),
        when=_when,
    )


def _person_page(
    area: PropertyArea, meeting: Meeting, error: str | None = None, status: int = 200
) -> tuple[str, int]:
    return (
        render_template(
            "proxies/person.html",
            area=area,
            meeting=meeting,
            error=error,
            name=request.form.get("name", "")[:100],
        ),
        status,
    )


@bp.get("/admin/meetings/<code>/<int:meeting_id>/proxies/person")
def person_form(code: str, meeting_id: int) -> tuple[str, int]:
    area = area_for(code, Action.manage_cards)
    return _person_page(area, _staff_meeting(area, meeting_id))


_PERSON_ERRORS: dict[str, Any] = {
    "name": _l("Please give the person's name (at most 100 characters)."),
    "id_number": _l("The ID number is not valid. Please check it."),
    "registered": _l(
        "This ID number is already registered in this property area (%(ref)s). Owners are "
        "chosen by house number. To give a registered person a new card, first revoke the old "
        "one on the owner cards page."
    ),
}


@bp.post("/admin/meetings/<code>/<int:meeting_id>/proxies/person")
def register_person(code: str, meeting_id: int) -> Response | tuple[str, int]:
    area = area_for(code, Action.manage_cards)
    meeting = _staff_meeting(area, meeting_id)
    id_hash_key = str(current_app.config["VOTING_ID_HASH_KEY"])
    try:
        issued = register_named_person(
            db_session(),
            area,
            load_issuer(current_app),
            name=request.form.get("name", ""),
            id_number=request.form.get("id_number", ""),
            id_hash_key=id_hash_key,
            base_url=request.host_url,
            user_id=staff_user().id,
            now=_now(),
        )
    except ProxyRefused as refusal:
        text = str(_PERSON_ERRORS.get(refusal.reason, MESSAGES["error"]))
        return _person_page(area, meeting, text % {"ref": refusal.detail}, refusal.status)
    return _card_zip(issued, area)


def _card_zip(issued: Any, area: PropertyArea) -> Response:
    """The person's card and PIN letter as one ZIP, built in memory and sent once."""
    from voting.cards.printing import render_cards_pdf, render_pin_letters_pdf

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        pdf = io.BytesIO()
        render_cards_pdf(card_faces([issued], area.name), pdf)
        archive.writestr("cards.pdf", pdf.getvalue())
        pdf = io.BytesIO()
        render_pin_letters_pdf(pin_letters([issued], area.name), pdf)
        archive.writestr("pin-letters.pdf", pdf.getvalue())
    response = Response(buffer.getvalue(), mimetype="application/zip")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="proxy-card-{area.code}-{issued.holder_ref}.zip"'
    )
    response.headers["Cache-Control"] = "no-store"
    return response
