"""The log for observers: public JSON endpoints anyone may audit, and the observer page.

    GET  /api/v1/areas/<code>/log/checkpoint               the latest signed checkpoint
    POST /api/v1/areas/<code>/log/checkpoint               a fresh one (at most one new per
                                                           second and area; else the latest)
    GET  /api/v1/areas/<code>/log/consistency?from=&to=    consistency proof (RFC 9162)
    GET  /api/v1/areas/<code>/log/inclusion?leaf=&size=    inclusion proof of a leaf hash,
                                          or ?index=&size= or of a leaf index
    GET  /api/v1/areas/<code>/log/entries?start=&end=      entries (base64) and leaf hashes,
                                                           at most 1000 per page
    GET  /api/v1/areas/<code>/log/key                      the log's verifier key
    GET  /observer/<code>                                  the observer page (Action.audit_log)

The JSON endpoints need no login: the log is evidence, and evidence must be checkable by
anyone. Proofs are served from stored subtree hashes (`voting.services.logtree`), which
are brought up to date only when a requested size is not covered yet. Refusals are 4xx with
{"error": <reason code>, "message": <text in the UI language>}. The POST takes an empty
body or {} as application/json and is exempt from the form CSRF token: a cross-site page
cannot send a JSON body without a CORS preflight, and the POST only signs what is public.

The observer page verifies in the browser (static/js/observer.js): the checkpoint's Ed25519
signature, and a consistency proof from the checkpoint it saw last time (kept in
localStorage) to the new one; any failure is a loud alarm.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any

from flask import Blueprint, current_app, jsonify, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from werkzeug.wrappers import Response

from crypto.errors import CryptoError
from crypto.statements import format_time
from voting.database import db_session
from voting.models import Checkpoint, LogEntry, PropertyArea, utcnow
from voting.permissions import Action
from voting.services import ServiceError
from voting.services.logtree import (
    LogSigner,
    ProofRefused,
    consistency_proof_at,
    find_leaf,
    inclusion_proof_at,
    latest_checkpoint,
    load_log_signer,
    log_size,
    prepare_proofs,
    sign_checkpoint,
)
from voting.web.auth import login_required
from voting.web.loaders import area_for, own_area_redirect
from voting.web.security import csrf

bp = Blueprint("observer", __name__)

API = "/api/v1/areas/<code>/log"
#: Most entries served per page.
MAX_ENTRIES = 1000
#: Largest POST body accepted (an empty JSON object is all that is expected).
MAX_BODY = 1024
_NUMBER = re.compile(r"[0-9]{1,20}")
_HEX_HASH = re.compile(r"[0-9a-fA-F]{64}")

MESSAGES: dict[str, Any] = {
    "not_found": _l("There is no property area with this code."),
    "no_checkpoint": _l("No checkpoint has been signed for this log yet."),
    "missing_parameter": _l("The parameter %(name)s is required."),
    "bad_number": _l("The parameter %(name)s must be a whole number without sign."),
    "bad_leaf": _l("The leaf must be a leaf hash of 64 hexadecimal digits."),
    "leaf_or_index": _l("Give either leaf or index, not both."),
    "beyond_log": _l("The size %(size)d is beyond the log, which has %(log)d entries."),
    "bad_range": _l("The range is not valid: start must not be larger than end."),
    "empty_tree": _l(
        "A consistency proof from the empty tree proves nothing: from must be 1 or more."
    ),
    "from_after_to": _l("from must not be larger than to."),
    "index_beyond_size": _l("The index must be smaller than the size."),
    "unknown_leaf": _l("No entry with this leaf hash is in the tree of this size."),
    "unsupported_media_type": _l("Send the request as JSON (Content-Type: application/json)."),
    "invalid_body": _l("The request body must be empty or the JSON object {}."),
    "too_large": _l("The request body is too large."),
    "key_unavailable": _l("The log key is not available. Please tell the platform operator."),
}


class LogApiError(Exception):
    """A refusal of a log endpoint: status, reason code and message arguments."""

    def __init__(self, status: int, reason: str, **args: Any) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.args_ = args


def _fail(status: int, reason: str, **args: Any) -> LogApiError:
    return LogApiError(status, reason, **args)


@bp.errorhandler(LogApiError)
def _log_api_error(error: LogApiError) -> tuple[Response, int]:
    text = str(MESSAGES.get(error.reason, error.reason))
    if error.args_:
        text = text % error.args_
    response = jsonify(error=error.reason, message=text)
    response.headers["Cache-Control"] = "no-store"
    return response, error.status


# --- loading and parameters -----------------------------------------------------------------


def _area(code: str) -> PropertyArea:
    area = db_session().scalar(select(PropertyArea).where(PropertyArea.code == code))
    if area is None:
        raise _fail(404, "not_found")
    return area


def _number(name: str, *, required: bool = True) -> int | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        if required:
            raise _fail(400, "missing_parameter", name=name)
        return None
    if not _NUMBER.fullmatch(raw):
        raise _fail(400, "bad_number", name=name)
    return int(raw)


def _required(name: str) -> int:
    value = _number(name)
    assert value is not None
    return value


def _within_log(size: int, current: int) -> None:
    if size > current:
        raise _fail(400, "beyond_log", size=size, log=current)


def _signer() -> LogSigner:
    try:
        return load_log_signer(current_app)
    except (OSError, CryptoError) as exc:
        current_app.logger.error("log key: %s", exc)
        raise _fail(503, "key_unavailable") from exc


def _hexes(values: list[bytes]) -> list[str]:
    return [value.hex() for value in values]


def _json(payload: Any, *, store: bool = True) -> Response:
    response = jsonify(payload)
    if not store:
        response.headers["Cache-Control"] = "no-store"
    return response


def checkpoint_json(area: PropertyArea, row: Checkpoint, signer: LogSigner) -> dict[str, Any]:
    return {
        "origin": signer.origin(area),
        "size": row.size,
        "root": row.root_hash.hex(),
        "note": row.note.decode("utf-8"),
        "created_at": format_time(row.created_at),
        "key": signer.verifier.encode(),
    }


# --- JSON endpoints --------------------------------------------------------------------------


@bp.get(f"{API}/checkpoint")
def checkpoint(code: str) -> Response:
    area = _area(code)
    row = latest_checkpoint(db_session(), area)
    if row is None:
        raise _fail(404, "no_checkpoint")
    return _json(checkpoint_json(area, row, _signer()), store=False)


def _check_post_body() -> None:
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise _fail(413, "too_large")
    charset = request.mimetype_params.get("charset", "utf-8").lower()
    if request.mimetype != "application/json" or charset not in ("utf-8", "utf8"):
        raise _fail(415, "unsupported_media_type")
    data = request.get_data(cache=False)
    if len(data) > MAX_BODY:
        raise _fail(413, "too_large")
    if data.strip():
        try:
            body = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise _fail(400, "invalid_body") from exc
        if body != {}:
            raise _fail(400, "invalid_body")


@bp.post(f"{API}/checkpoint")
def new_checkpoint(code: str) -> Response:
    _check_post_body()
    area = _area(code)
    signer = _signer()
    row = sign_checkpoint(db_session(), area, signer, utcnow())
    return _json(checkpoint_json(area, row, signer), store=False)


csrf.exempt(new_checkpoint)


@bp.get(f"{API}/consistency")
def consistency(code: str) -> Response:
    area = _area(code)
    size1, size2 = _required("from"), _required("to")
    session = db_session()
    _within_log(size2, log_size(session, area))
    if size1 < 1:
        raise _fail(400, "empty_tree")
    if size1 > size2:
        raise _fail(400, "from_after_to")
    prepare_proofs(session, area, size2)
    proof = consistency_proof_at(session, area, size1, size2)
    return _json({"from": size1, "to": size2, "proof": _hexes(proof)})


@bp.get(f"{API}/inclusion")
def inclusion(code: str) -> Response:
    area = _area(code)
    size = _required("size")
    leaf_text = request.args.get("leaf")
    index = _number("index", required=leaf_text is None)
    if leaf_text is not None and index is not None:
        raise _fail(400, "leaf_or_index")
    session = db_session()
    _within_log(size, log_size(session, area))
    if leaf_text is not None:
        if not _HEX_HASH.fullmatch(leaf_text):
            raise _fail(400, "bad_leaf")
        try:
            index = find_leaf(session, area, bytes.fromhex(leaf_text), size)
        except ProofRefused as exc:
            raise _fail(404, "unknown_leaf") from exc
    assert index is not None
    if index >= size:
        raise _fail(400, "index_beyond_size")
    prepare_proofs(session, area, size)
    proof = inclusion_proof_at(session, area, index, size)
    leaf = session.scalar(
        select(LogEntry.leaf_hash).where(
            LogEntry.property_area_id == area.id, LogEntry.seq == index
        )
    )
    return _json(
        {
            "index": index,
            "size": size,
            "leaf": leaf.hex() if leaf is not None else None,
            "proof": _hexes(proof),
        }
    )


@bp.get(f"{API}/entries")
def entries(code: str) -> Response:
    area = _area(code)
    session = db_session()
    current = log_size(session, area)
    start = _required("start")
    end = _number("end", required=False)
    _within_log(start, current)
    if end is None:
        end = current
    _within_log(end, current)
    if start > end:
        raise _fail(400, "bad_range")
    stop = min(end, start + MAX_ENTRIES)
    rows = session.execute(
        select(LogEntry.seq, LogEntry.entry, LogEntry.leaf_hash)
        .where(
            LogEntry.property_area_id == area.id,
            LogEntry.seq >= start,
            LogEntry.seq < stop,
        )
        .order_by(LogEntry.seq)
    ).all()
    following = (
        url_for(".entries", code=area.code, start=stop, end=end, _external=False)
        if stop < end
        else None
    )
    return _json(
        {
            "start": start,
            "end": stop,
            "size": current,
            "entries": [
                {
                    "index": seq,
                    "entry": base64.b64encode(entry).decode("ascii"),
                    "leaf": leaf.hex(),
                }
                for seq, entry, leaf in rows
            ],
            "next": following,
        }
    )


@bp.get(f"{API}/key")
def key(code: str) -> Response:
    area = _area(code)
    signer = _signer()
    verifier = signer.verifier
    return _json(
        {
            "name": verifier.name,
            "key": verifier.encode(),
            "key_id": verifier.key_id.hex(),
            "public_key": verifier.public_key.hex(),
            "origin": signer.origin(area),
        },
        store=False,
    )


@bp.errorhandler(ServiceError)
def _service_error(error: ServiceError) -> tuple[Response, int]:
    """A proof the service refused after the checks above (a race with the log's size)."""
    response = jsonify(error="bad_request", message=str(error))
    return response, 400


# --- the observer page -------------------------------------------------------------------------


@bp.get("/observer/")
@login_required
def index() -> Response:
    return own_area_redirect(".page")


@bp.get("/observer/<code>")
def page(code: str) -> str:
    area = area_for(code, Action.audit_log)
    session = db_session()
    signer = _page_signer()
    row = latest_checkpoint(session, area)
    return render_template(
        "observer/page.html",
        area=area,
        size=log_size(session, area),
        checkpoint=row,
        origin=f"{current_app.config['VOTING_PLATFORM_ID']}/log/{area.code}",
        verifier=signer.verifier.encode() if signer is not None else None,
        api=url_for(".checkpoint", code=area.code).rsplit("/", 1)[0],
    )


def _page_signer() -> LogSigner | None:
    try:
        return load_log_signer(current_app)
    except (OSError, CryptoError) as exc:
        current_app.logger.error("log key: %s", exc)
        return None


# --- OpenAPI 3.1 path items (merged by voting.web.openapi) ----------------------------------------

_ERROR = {"$ref": "#/components/schemas/Error"}
_HEX = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
_SIZE = {"type": "integer", "minimum": 0}
_CODE = {
    "name": "code",
    "in": "path",
    "required": True,
    "description": "the property area's code",
    "schema": {"type": "string"},
}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ERROR}}}


def _ok(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _query(name: str, description: str, *, required: bool = True) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": required,
        "description": description,
        "schema": {"type": "integer", "minimum": 0},
    }


_CHECKPOINT = {
    "type": "object",
    "required": ["origin", "size", "root", "note", "created_at", "key"],
    "properties": {
        "origin": {"type": "string", "description": "<platform>/log/<area code>"},
        "size": _SIZE,
        "root": {**_HEX, "description": "Merkle root (RFC 9162) of the first size entries"},
        "note": {
            "type": "string",
            "description": "the signed note exactly as signed (C2SP tlog-checkpoint)",
        },
        "created_at": {"type": "string", "description": "RFC 3339 UTC"},
        "key": {"type": "string", "description": "verifier key <name>+<key ID>+<base64 key>"},
    },
}
_PROOF = {"type": "array", "items": _HEX}
_NOT_FOUND = _error("no property area with this code")
_BAD = _error("missing or malformed parameter, or a size beyond the log")
_PUBLIC: list[dict[str, Any]] = []

OPENAPI_PATHS: dict[str, Any] = {
    "/api/v1/areas/{code}/log/checkpoint": {
        "parameters": [_CODE],
        "get": {
            "operationId": "getLogCheckpoint",
            "summary": "The latest signed checkpoint of the area's log",
            "tags": ["log"],
            "security": _PUBLIC,
            "responses": {
                "200": _ok(_CHECKPOINT, "the latest checkpoint"),
                "404": _error("unknown area, or no checkpoint signed yet"),
            },
        },
        "post": {
            "operationId": "signLogCheckpoint",
            "summary": "A fresh checkpoint of the whole log",
            "description": (
                "Signs a checkpoint of the log's current size, unless the latest one already "
                "has that size or was signed less than a second ago (then that one is "
                "returned). Body: empty or {}, as application/json; no CSRF token."
            ),
            "tags": ["log"],
            "security": _PUBLIC,
            "requestBody": {
                "required": False,
                "content": {"application/json": {"schema": {"type": "object", "maxProperties": 0}}},
            },
            "responses": {
                "200": _ok(_CHECKPOINT, "the fresh (or latest) checkpoint"),
                "400": _error("a body other than {}"),
                "404": _NOT_FOUND,
                "413": _error("body too large"),
                "415": _error("body not application/json"),
            },
        },
    },
    "/api/v1/areas/{code}/log/consistency": {
        "parameters": [_CODE],
        "get": {
            "operationId": "getLogConsistency",
            "summary": "Consistency proof between two tree sizes (RFC 9162 §2.1.4)",
            "tags": ["log"],
            "security": _PUBLIC,
            "parameters": [
                _query("from", "the older tree size (1 or more)"),
                _query("to", "the newer tree size (at most the log's size)"),
            ],
            "responses": {
                "200": _ok(
                    {
                        "type": "object",
                        "required": ["from", "to", "proof"],
                        "properties": {"from": _SIZE, "to": _SIZE, "proof": _PROOF},
                    },
                    "the proof, hashes in hex (empty when from = to)",
                ),
                "400": _BAD,
                "404": _NOT_FOUND,
            },
        },
    },
    "/api/v1/areas/{code}/log/inclusion": {
        "parameters": [_CODE],
        "get": {
            "operationId": "getLogInclusion",
            "summary": "Inclusion proof of a leaf in the tree of a size (RFC 9162 §2.1.3)",
            "tags": ["log"],
            "security": _PUBLIC,
            "parameters": [
                {
                    "name": "leaf",
                    "in": "query",
                    "required": False,
                    "description": "leaf hash SHA-256(0x00 || entry) in hex; or give index",
                    "schema": _HEX,
                },
                _query("index", "leaf index; or give leaf", required=False),
                _query("size", "tree size (at most the log's size)"),
            ],
            "responses": {
                "200": _ok(
                    {
                        "type": "object",
                        "required": ["index", "size", "leaf", "proof"],
                        "properties": {
                            "index": _SIZE,
                            "size": _SIZE,
                            "leaf": _HEX,
                            "proof": _PROOF,
                        },
                    },
                    "the proof, leaf side first, hashes in hex",
                ),
                "400": _BAD,
                "404": _error("unknown area, or no such leaf in the tree of this size"),
            },
        },
    },
    "/api/v1/areas/{code}/log/entries": {
        "parameters": [_CODE],
        "get": {
            "operationId": "getLogEntries",
            "summary": f"Log entries [start, end), at most {MAX_ENTRIES} per page",
            "tags": ["log"],
            "security": _PUBLIC,
            "parameters": [
                _query("start", "first index"),
                _query("end", "index after the last (default: the log's size)", required=False),
            ],
            "responses": {
                "200": _ok(
                    {
                        "type": "object",
                        "required": ["start", "end", "size", "entries", "next"],
                        "properties": {
                            "start": _SIZE,
                            "end": _SIZE,
                            "size": {**_SIZE, "description": "the log's size"},
                            "entries": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "required": ["index", "entry", "leaf"],
                                    "properties": {
                                        "index": _SIZE,
                                        "entry": {
                                            "type": "string",
                                            "description": "entry bytes, standard base64",
                                        },
                                        "leaf": _HEX,
                                    },
                                },
                            },
                            "next": {
                                "oneOf": [{"type": "string"}, {"type": "null"}],
                                "description": "URL of the next page, if end was cut",
                            },
                        },
                    },
                    "the entries, canonical JSON bytes in base64",
                ),
                "400": _BAD,
                "404": _NOT_FOUND,
            },
        },
    },
    "/api/v1/areas/{code}/log/key": {
        "parameters": [_CODE],
        "get": {
            "operationId": "getLogKey",
            "summary": "The verifier key of the log's checkpoints",
            "tags": ["log"],
            "security": _PUBLIC,
            "responses": {
                "200": _ok(
                    {
                        "type": "object",
                        "required": ["name", "key", "key_id", "public_key", "origin"],
                        "properties": {
                            "name": {"type": "string"},
                            "key": {"type": "string", "description": "signed-note verifier key"},
                            "key_id": {"type": "string", "pattern": "^[0-9a-f]{8}$"},
                            "public_key": _HEX,
                            "origin": {"type": "string"},
                        },
                    },
                    "the key",
                ),
                "404": _NOT_FOUND,
            },
        },
    },
}
