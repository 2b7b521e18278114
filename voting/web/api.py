"""The JSON API under /api/v1: what the owner's phone and the kiosk talk to.

    GET  /api/v1/meetings                       meetings of the card's area (not drafts)
    GET  /api/v1/meetings/<id>                  motions the holder may vote on, proxies held
    POST /api/v1/meetings/<id>/challenge        {} or {"voter": ref} → nonces to sign
    POST /api/v1/ballots                        {"statement", "signature"} (base64url) → 201
    GET  /api/v1/receipts/<ballot hash>         public: a ballot's receipt
    GET  /api/v1/meetings/<id>/turnout          participation (voting.services.results)
    GET  /api/v1/meetings/<id>/results          results after close (voting.services.results)
    GET  /api/v1/openapi.json                   the OpenAPI 3.1 document (voting.web.openapi)

Every refusal is a 4xx with {"error": <reason code>, "message": <text in the UI language>},
never HTML and never a stack trace: the handlers below are installed for every path under
/api/v1/, so routing errors (404, 405) and the other blueprints' /api/v1 endpoints answer
the same way. POST bodies must be `application/json` (else 415) of at most 64 KiB (else
413, without reading the body); the form CSRF token is not required, because a cross-site
page cannot send a JSON body without a CORS preflight, which this app never grants.

Owner endpoints need a card session (cookie from /card/login), else 401. The ballot checks
themselves live in `voting.services.ballots` (docs/PROTOCOL.md section 6.1); this module
only decodes the request, calls the service and maps its refusals to statuses and messages.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime as dt
import decimal
import enum
import importlib
import importlib.util
import json
import logging
import re
from collections.abc import Callable
from types import ModuleType
from typing import Any, NoReturn

from flask import Blueprint, current_app, jsonify, request, url_for
from flask.blueprints import BlueprintSetupState
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException, InternalServerError, MethodNotAllowed
from werkzeug.wrappers import Response

from crypto.keys import SIGNATURE_SIZE
from crypto.statements import MAX_STATEMENT_SIZE, format_time
from voting.database import db_session
from voting.domain.procedure import MeetingState
from voting.domain.tally import rule_for_matter
from voting.models import (
    Building,
    Card,
    CountedBallot,
    Holder,
    Meeting,
    Motion,
    PropertyArea,
    Proxy,
    RollEntry,
    Unit,
    utcnow,
)
from voting.permissions import Action, can
from voting.services import NotFound, ServiceError
from voting.services.ballots import (
    BallotChallenge,
    BallotRefused,
    Receipt,
    ballot_challenge,
    ballot_nonce_key,
    cast_ballot,
    eligible_motions,
    receipt_by_hash,
)
from voting.services.roll import current_version
from voting.web.auth import current_card, current_user
from voting.web.security import csrf

log = logging.getLogger(__name__)

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)

API_PREFIX = "/api/v1/"
#: Largest request body accepted (bytes); larger ones are refused with 413 unread.
MAX_BODY = 64 * 1024
JSON_TYPE = "application/json"

_HASH = re.compile(r"[0-9a-f]{64}")
_IDENTIFIER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")

# Reason code → message. Service refusals (`BallotRefused.reason`) keep the
# service's status; the message is the translated text below, never the service's English.
MESSAGES: dict[str, Any] = {
    # ballot checks (voting.services.ballots)
    "malformed": _l("The ballot is not valid. Please reload the page and try again."),
    "platform": _l("The ballot was made for another voting platform."),
    "card": _l("Please log in with your owner card."),
    "credential": _l("The ballot names another owner card than the one logged in."),
    "certificate": _l(
        "This owner card is no longer valid. Please ask your owners' committee for a new one."
    ),
    "bad_signature": _l("The signature does not match the owner card. The ballot was not stored."),
    "unknown_nonce": _l(
        "The ballot does not answer a challenge issued for this motion. Please reload the "
        "page and try again."
    ),
    "replayed": _l("This ballot has already been submitted."),
    "unknown_motion": _l("There is no such meeting or motion."),
    "area": _l("The ballot is for another property area."),
    "not_open": _l("Voting is not open for this meeting."),
    "closed": _l("The voting period has ended."),
    "expired": _l("The ballot took too long. Please reload the page and vote again."),
    "roll": _l("The ballot names another owner roll than the meeting's."),
    "revoked": _l("This owner card has been revoked. Please contact your owners' committee."),
    "locked": _l("The card is locked. Unlock it with the PUK or contact the owners' committee."),
    "voter": _l("The ballot names another owner than the card's holder."),
    "proxy": _l("No authorisation in force lets this card vote for that owner."),
    "scope": _l("You have no unit within the scope of this motion."),
    "choice": _l("The choice is not valid for this motion."),
    "instruction": _l("The owner instructed the proxy to vote otherwise on this motion."),
    "owner_voted": _l("The owner has already voted in person on this motion."),
    "already_voted": _l(
        "A ballot has already been cast on this motion, and the rules of procedure do not "
        "allow changing it."
    ),
    # requests
    "login_required": _l("Please log in with your owner card."),
    "forbidden": _l("You are not allowed to see this."),
    "not_found": _l("Not found."),
    "method_not_allowed": _l("This method is not allowed here."),
    "too_large": _l("The request body is larger than %(limit)d KiB."),
    "unsupported_media_type": _l("Send the request body as JSON (Content-Type: application/json)."),
    "invalid_json": _l("The request body is not valid JSON."),
    "invalid_request": _l("The request does not have the expected members and types."),
    "invalid_base64": _l("The statement and the signature must be base64url without padding."),
    "not_available": _l("These figures are not available."),
    "not_closed": _l("The results are available once voting has closed."),
    "bad_request": _l("The request is not valid."),
    "too_many_requests": _l("Too many requests. Please wait a moment and try again."),
    "server_error": _l("Something went wrong on our side. Please try again later."),
    "error": _l("The request could not be completed."),
}

# HTTP status → reason code, for errors raised outside the views (routing, body limits).
HTTP_REASONS = {
    400: "bad_request",
    401: "login_required",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    415: "unsupported_media_type",
    429: "too_many_requests",
    500: "server_error",
}


class ApiError(Exception):
    """A refusal with its status and reason code; the handler renders it as JSON."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def fail(status: int, reason: str) -> NoReturn:
    raise ApiError(status, reason)


# --- responses ---------------------------------------------------------------------------


def _json(payload: Any, status: int = 200, *, cache: bool = False) -> tuple[Response, int]:
    response = jsonify(payload)
    if not cache:
        response.headers["Cache-Control"] = "no-store"
    return response, status


def message(reason: str) -> str:
    text = MESSAGES.get(reason, MESSAGES["error"])
    return str(text) % {"limit": MAX_BODY // 1024} if reason == "too_large" else str(text)


def error_response(status: int, reason: str) -> tuple[Response, int]:
    return _json({"error": reason, "message": message(reason)}, status)


def is_api_request() -> bool:
    return request.path.startswith(API_PREFIX)


def _api_error(error: ApiError) -> tuple[Response, int]:
    return error_response(error.status, error.reason)


def _ballot_refused(refusal: BallotRefused) -> tuple[Response, int]:
    return error_response(refusal.status, refusal.reason)


def _http_error_json(error: HTTPException) -> tuple[Response, int]:
    status = error.code or 500
    response, status = error_response(status, HTTP_REASONS.get(status, "error"))
    if isinstance(error, MethodNotAllowed) and error.valid_methods:
        response.headers["Allow"] = ", ".join(sorted(error.valid_methods))
    return response, status


def _server_error_json(_error: InternalServerError) -> tuple[Response, int]:
    try:  # the request's transaction is of no further use; the database may be down
        db_session().rollback()
    except Exception:
        log.exception("rolling back after an API error failed")
    return error_response(500, "server_error")


Handler = Callable[[Any], Any]


def _scoped(api_handler: Handler, fallback: Handler | None) -> Handler:
    """`api_handler` for /api/v1/ paths, the app's own handler for every other path."""

    def handler(error: Any) -> Any:
        if is_api_request():
            return api_handler(error)
        return fallback(error) if fallback is not None else error

    return handler


@bp.record_once
def _install_error_handlers(state: BlueprintSetupState) -> None:
    """Answer every error under /api/v1/ as JSON, including routing errors (unknown paths,
    wrong methods) that never reach this blueprint; other paths keep the app's pages."""
    app = state.app
    # Flask files a handler under its exception's status code (None for HTTPException).
    for exc_class, code, api_handler in (
        (HTTPException, None, _http_error_json),
        (InternalServerError, 500, _server_error_json),
    ):
        installed = app.error_handler_spec[None][code].get(exc_class)
        app.register_error_handler(exc_class, _scoped(api_handler, installed))


bp.register_error_handler(ApiError, _api_error)
bp.register_error_handler(BallotRefused, _ballot_refused)


@bp.before_request
def _limit_and_check_body() -> None:
    """Cap the body before anything reads it; POST bodies must be declared JSON."""
    request.max_content_length = MAX_BODY
    if request.content_length is not None and request.content_length > MAX_BODY:
        fail(413, "too_large")
    if request.method == "POST":
        charset = request.mimetype_params.get("charset", "utf-8").lower()
        if request.mimetype != JSON_TYPE or charset not in ("utf-8", "utf8"):
            fail(415, "unsupported_media_type")


# --- request bodies ------------------------------------------------------------------------


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate member {key!r}")
        result[key] = value
    return result


def _reject(text: str) -> Any:
    raise ValueError(f"{text} is not allowed")


def json_object(required: set[str], optional: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The body as a JSON object with exactly these members (strings only), or a 400.

    Strict: UTF-8, no duplicate members, no NaN/Infinity, no fractions; a missing, extra or
    non-string member is refused rather than ignored.
    """
    data = request.get_data(cache=False)  # raises 413 past MAX_BODY
    try:
        body = json.loads(
            data.decode("utf-8"),
            object_pairs_hook=_no_duplicates,
            parse_constant=_reject,
            parse_float=_reject,
        )
    except (UnicodeDecodeError, ValueError, RecursionError):
        fail(400, "invalid_json")
    if not isinstance(body, dict):
        fail(400, "invalid_request")
    members = set(body)
    if not required <= members or not members <= required | optional:
        fail(400, "invalid_request")
    if not all(isinstance(value, str) for value in body.values()):
        fail(400, "invalid_request")
    return body


def base64url(value: str, limit: int) -> bytes:
    """Strict unpadded base64url (RFC 4648 §5) of at most `limit` bytes, else a 400: the
    text must be exactly what encoding the decoded bytes gives."""
    if len(value) > (limit * 4 + 2) // 3 or len(value) % 4 == 1:
        fail(400, "invalid_base64")
    if not _BASE64URL.fullmatch(value):
        fail(400, "invalid_base64")
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        fail(400, "invalid_base64")
    if base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii") != value:
        fail(400, "invalid_base64")
    return raw


# --- loading and permission ------------------------------------------------------------------


def _platform() -> str:
    return str(current_app.config["VOTING_PLATFORM_ID"])


def _nonce_key() -> bytes:
    return ballot_nonce_key(current_app.config["SECRET_KEY"])


def now() -> dt.datetime:
    """The time of this request (one place, so that tests can set the clock)."""
    return utcnow()


def owner_card() -> Card:
    """The card of the owner's session, else 401."""
    card = current_card()
    if card is None:
        fail(401, "login_required")
    return card


def owner_meeting(card: Card, meeting_id: int) -> Meeting:
    """A meeting of the card's area that has been noticed, else 404 (also for other areas'
    meetings, whose existence is not revealed)."""
    meeting = db_session().get(Meeting, meeting_id)
    if (
        meeting is None
        or meeting.property_area_id != card.property_area_id
        or meeting.state is MeetingState.draft
    ):
        fail(404, "not_found")
    return meeting


def viewed_meeting(meeting_id: int) -> Meeting:
    """A noticed meeting the requester may follow: an owner of its area (card session) or
    staff allowed to view meetings there. Anonymous 401, other staff 403, unknown 404."""
    card = current_card()
    if card is not None:
        return owner_meeting(card, meeting_id)
    user = current_user()
    if user is None:
        fail(401, "login_required")
    session = db_session()
    meeting = session.get(Meeting, meeting_id)
    area = None if meeting is None else session.get(PropertyArea, meeting.property_area_id)
    if not can(user, Action.view_meetings, area):
        fail(403, "forbidden")
    if meeting is None or meeting.state is MeetingState.draft:
        fail(404, "not_found")
    return meeting


# --- what an owner sees of a meeting -----------------------------------------------------------


def _time(moment: dt.datetime | None) -> str | None:
    return None if moment is None else format_time(moment)


def meeting_summary(meeting: Meeting) -> dict[str, Any]:
    return {
        "id": meeting.id,
        "title": meeting.title,
        "state": meeting.state.value,
        "notice_posted_at": _time(meeting.notice_posted_at),
        "window_opens_at": _time(meeting.window_opens_at),
        "window_closes_at": _time(meeting.window_closes_at),
        "roll": meeting.roll_sha256,
        "url": url_for("api.meeting", meeting_id=meeting.id),
    }


def _holder_buildings(session: Session, version_id: int, holder_id: int) -> set[str]:
    return set(
        session.scalars(
            select(Building.name)
            .select_from(RollEntry)
            .join(Unit, RollEntry.unit_id == Unit.id)
            .join(Building, Unit.building_id == Building.id)
            .where(RollEntry.roll_version_id == version_id, RollEntry.holder_id == holder_id)
            .distinct()
        )
    )


def _motions_for(session: Session, meeting: Meeting, holder_id: int) -> list[Motion]:
    """The motions the holder may vote on: against the meeting's roll snapshot once open;
    before that, against the area's current roll (what the notice announces)."""
    if meeting.roll_version_id is not None:
        return eligible_motions(session, meeting, holder_id)
    area = session.get(PropertyArea, meeting.property_area_id)
    version = None if area is None else current_version(session, area)
    if version is None:
        return []
    buildings = _holder_buildings(session, version.id, holder_id)
    return [
        motion
        for motion in meeting.motions
        if buildings and (motion.scope is None or not motion.scope.isdisjoint(buildings))
    ]


def _voted(session: Session, motions: list[Motion], holder_id: int) -> set[int]:
    """Motions on which the holder has a counted ballot (never which choice)."""
    if not motions:
        return set()
    return set(
        session.scalars(
            select(CountedBallot.motion_id).where(
                CountedBallot.holder_id == holder_id,
                CountedBallot.motion_id.in_([motion.id for motion in motions]),
            )
        )
    )


def motion_view(motion: Motion, voted: set[int]) -> dict[str, Any]:
    scope = motion.scope
    return {
        "id": motion.id,
        "position": motion.position,
        "matter": motion.matter,
        "rule": rule_for_matter(motion.matter).value,
        "kind": motion.kind.value,
        "title": motion.title,
        "text": motion.text,
        "seats": motion.seats,
        "options": [option.label for option in motion.options],
        "scope": None if scope is None else sorted(scope),
        "voted": motion.id in voted,
    }


def _motion_views(session: Session, meeting: Meeting, holder_id: int) -> list[dict[str, Any]]:
    motions = _motions_for(session, meeting, holder_id)
    voted = _voted(session, motions, holder_id)
    return [motion_view(motion, voted) for motion in motions]


def proxies_held(session: Session, meeting: Meeting, card: Card) -> list[Proxy]:
    """Authorisations in force that let this card's holder vote for other owners."""
    return list(
        session.scalars(
            select(Proxy)
            .where(
                Proxy.meeting_id == meeting.id,
                Proxy.proxy_holder_id == card.holder_id,
                Proxy.withdrawn_at.is_(None),
            )
            .order_by(Proxy.id)
        )
    )


def _proxy_for(session: Session, meeting: Meeting, card: Card, voter: str) -> Proxy:
    """The authorisation in force for the owner `voter`, held by the card's holder, else 403."""
    if not _IDENTIFIER.fullmatch(voter):
        fail(400, "invalid_request")
    proxy = session.scalar(
        select(Proxy)
        .join(Holder, Proxy.owner_holder_id == Holder.id)
        .where(
            Proxy.meeting_id == meeting.id,
            Proxy.proxy_holder_id == card.holder_id,
            Proxy.withdrawn_at.is_(None),
            Holder.ref == voter,
            Holder.property_area_id == meeting.property_area_id,
        )
    )
    if proxy is None:
        fail(403, "proxy")
    return proxy


def _instructions(proxy: Proxy) -> dict[str, Any] | None:
    if proxy.instructions is None:
        return None
    value: dict[str, Any] = json.loads(proxy.instructions)
    return value


def challenge_view(challenge: BallotChallenge, proxy: Proxy | None) -> dict[str, Any]:
    return {
        "platform": challenge.platform,
        "area": challenge.area,
        "meeting": challenge.meeting,
        "roll": challenge.roll,
        "voter": challenge.voter,
        "credential": challenge.credential,
        "time": challenge.time,
        "expires": format_time(challenge.expires_at),
        "nonces": {str(motion): nonce for motion, nonce in challenge.nonces.items()},
        "proxy": None if proxy is None else proxy.statement_hash,
    }


def receipt_view(receipt: Receipt) -> dict[str, Any]:
    return {
        "ballot_hash": receipt.ballot_hash,
        "area": receipt.area,
        "meeting": receipt.meeting,
        "motion": receipt.motion,
        "time": format_time(receipt.cast_at),
        "log_index": receipt.log_index,
        "counted": receipt.counted,
        "by_proxy": receipt.by_proxy,
    }


def receipt_page(ballot_hash: str) -> str:
    """The public receipt page for people (the vote pages), fixed by the shared contract."""
    return f"/receipts/{ballot_hash}"


# --- endpoints --------------------------------------------------------------------------------


@bp.get("/meetings")
def meetings() -> tuple[Response, int]:
    card = owner_card()
    session = db_session()
    area = session.get(PropertyArea, card.property_area_id)
    assert area is not None
    rows = session.scalars(
        select(Meeting)
        .where(Meeting.property_area_id == area.id, Meeting.state != MeetingState.draft)
        .order_by(Meeting.id.desc())
    )
    return _json(
        {
            "area": {"code": area.code, "name": area.name},
            "meetings": [meeting_summary(meeting) for meeting in rows],
        }
    )


@bp.get("/meetings/<int:meeting_id>")
def meeting(meeting_id: int) -> tuple[Response, int]:
    card = owner_card()
    found = owner_meeting(card, meeting_id)
    session = db_session()
    area = session.get(PropertyArea, found.property_area_id)
    assert area is not None
    rules = None
    if found.rules_allow_vote_change is not None:
        rules = {
            "allow_vote_change": found.rules_allow_vote_change,
            "proxy_cap": found.rules_proxy_cap,
        }
    proxies = [
        {
            "voter": proxy.owner.ref,
            "proxy": proxy.statement_hash,
            "instructions": _instructions(proxy),
            "motions": _motion_views(session, found, proxy.owner_holder_id),
        }
        for proxy in proxies_held(session, found, card)
    ]
    return _json(
        {
            **meeting_summary(found),
            "area": {"code": area.code, "name": area.name},
            "rules": rules,
            "voter": card.holder.ref,
            "motions": _motion_views(session, found, card.holder_id),
            "proxies": proxies,
        }
    )


@bp.post("/meetings/<int:meeting_id>/challenge")
def challenge(meeting_id: int) -> tuple[Response, int]:
    card = owner_card()
    found = owner_meeting(card, meeting_id)
    body = json_object(set(), frozenset({"voter"}))
    session = db_session()
    proxy = None
    if "voter" in body and body["voter"] != card.holder.ref:
        proxy = _proxy_for(session, found, card, body["voter"])
    issued = ballot_challenge(
        session,
        card,
        found,
        voter=None if proxy is None else proxy.owner,
        platform=_platform(),
        key=_nonce_key(),
        now=now(),
    )
    return _json(challenge_view(issued, proxy))


@bp.post("/ballots")
def ballots() -> tuple[Response, int]:
    card = owner_card()
    body = json_object({"statement", "signature"})
    statement = base64url(body["statement"], MAX_STATEMENT_SIZE)
    signature = base64url(body["signature"], SIGNATURE_SIZE)
    receipt = cast_ballot(
        db_session(),
        statement,
        signature,
        card_id=card.id,
        platform=_platform(),
        key=_nonce_key(),
        now=now(),
    )
    return _json(
        {
            "ballot_hash": receipt.ballot_hash,
            "log_index": receipt.log_index,
            "time": format_time(receipt.cast_at),
            "meeting": receipt.meeting,
            "motion": receipt.motion,
            "counted": receipt.counted,
            "receipt_url": receipt_page(receipt.ballot_hash),
        },
        201,
    )


@bp.get("/receipts/<ballot_hash>")
def receipt(ballot_hash: str) -> tuple[Response, int]:
    found = receipt_by_hash(db_session(), ballot_hash) if _HASH.fullmatch(ballot_hash) else None
    if found is None:
        fail(404, "not_found")
    return _json(receipt_view(found))


# --- turnout and results (voting.services.results, when present) ------------------------------


def _results_service() -> ModuleType | None:
    name = "voting.services.results"
    return importlib.import_module(name) if importlib.util.find_spec(name) else None


def jsonable(value: Any) -> Any:
    """Plain JSON values from a service's result: dataclasses, enums, times (RFC 3339),
    exact decimals (as strings), sets (sorted) and bytes (hex)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            field.name: jsonable(getattr(value, field.name)) for field in dataclasses.fields(value)
        }
    if isinstance(value, dict):
        return {str(jsonable(key)): jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    if isinstance(value, set | frozenset):
        return sorted((jsonable(item) for item in value), key=str)
    if isinstance(value, enum.Enum):
        return jsonable(value.value)
    if isinstance(value, dt.datetime):
        return format_time(value) if value.tzinfo is not None else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def _figures(found: Meeting, name: str) -> tuple[Response, int]:
    service = _results_service()
    compute = None if service is None else getattr(service, name, None)
    if compute is None:
        fail(404, "not_available")
    try:
        figures = compute(db_session(), found)
    except NotFound:
        fail(404, "not_available")
    except ServiceError:
        fail(409, "not_available")
    return _json(jsonable(figures))


@bp.get("/meetings/<int:meeting_id>/turnout")
def turnout(meeting_id: int) -> tuple[Response, int]:
    return _figures(viewed_meeting(meeting_id), "turnout")


_AFTER_CLOSE = frozenset({MeetingState.closed, MeetingState.published, MeetingState.annulled})


@bp.get("/meetings/<int:meeting_id>/results")
def results(meeting_id: int) -> tuple[Response, int]:
    found = viewed_meeting(meeting_id)
    if found.state not in _AFTER_CLOSE:
        fail(409, "not_closed")
    return _figures(found, "results")


@bp.get("/openapi.json")
def openapi() -> tuple[Response, int]:
    from voting.web.openapi import document

    return _json(document(), cache=True)
