"""The OpenAPI 3.1 document of /api/v1, written by hand so that it says what the API
promises rather than what a generator guesses.

`document()` returns this module's paths merged with the `OPENAPI_PATHS` dicts that the
other /api/v1 modules export (`voting.web.observer`, `voting.web.proxies`,
`voting.web.meetings`), each only if the module exists. tests/web/test_api_openapi.py
checks that every registered /api/v1 route is documented and every documented one exists.
"""

from __future__ import annotations

import copy
import importlib
import importlib.util
from typing import Any

from voting.web.api import MAX_BODY

# Modules that may contribute `OPENAPI_PATHS` = {"/api/v1/...": {"get": {...}, ...}}.
CONTRIBUTORS = ("voting.web.observer", "voting.web.proxies", "voting.web.meetings")


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    return {str(code): {"$ref": f"#/components/responses/E{code}"} for code in codes}


_HEX64 = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
_TIME = {
    "type": "string",
    "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$",
    "description": "RFC 3339 UTC, whole seconds (PROTOCOL section 1)",
}
_B64URL = {"type": "string", "pattern": "^[A-Za-z0-9_-]*$", "description": "base64url, no padding"}
_IDENTIFIER = {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"}
_ID = {"type": "integer", "minimum": 1}
_MEETING_ID = {
    "name": "meeting_id",
    "in": "path",
    "required": True,
    "schema": _ID,
}
_OWNER: list[dict[str, list[str]]] = [{"cardSession": []}]
_JSON_BODY_ERRORS = _errors(400, 401, 413, 415)

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error", "message"],
        "properties": {
            "error": {"type": "string", "description": "reason code, e.g. expired, scope"},
            "message": {"type": "string", "description": "the reason in the UI language"},
        },
    },
    "Area": {
        "type": "object",
        "required": ["code", "name"],
        "properties": {"code": _IDENTIFIER, "name": {"type": "string"}},
    },
    "MeetingSummary": {
        "type": "object",
        "required": [
            "id",
            "title",
            "state",
            "notice_posted_at",
            "window_opens_at",
            "window_closes_at",
            "roll",
            "url",
        ],
        "properties": {
            "id": _ID,
            "title": {"type": "string"},
            "state": {"enum": ["noticed", "open", "closed", "published", "annulled"]},
            "notice_posted_at": {"oneOf": [_TIME, {"type": "null"}]},
            "window_opens_at": {"oneOf": [_TIME, {"type": "null"}]},
            "window_closes_at": {"oneOf": [_TIME, {"type": "null"}]},
            "roll": {
                "oneOf": [_HEX64, {"type": "null"}],
                "description": "SHA-256 of the roll snapshot, published when voting opens",
            },
            "url": {"type": "string"},
        },
    },
    "MeetingList": {
        "type": "object",
        "required": ["area", "meetings"],
        "properties": {
            "area": _ref("Area"),
            "meetings": {"type": "array", "items": _ref("MeetingSummary")},
        },
    },
    "Motion": {
        "type": "object",
        "required": [
            "id",
            "position",
            "matter",
            "rule",
            "kind",
            "title",
            "text",
            "seats",
            "options",
            "scope",
            "voted",
        ],
        "properties": {
            "id": _ID,
            "position": _ID,
            "matter": {"type": "integer", "minimum": 1, "maximum": 9},
            "rule": {"enum": ["ordinary", "special"]},
            "kind": {"enum": ["yes_no", "choice", "election"]},
            "title": {"type": "string"},
            "text": {"type": "string"},
            "seats": {"type": "integer", "minimum": 0},
            "options": {"type": "array", "items": {"type": "string"}},
            "scope": {
                "oneOf": [{"type": "array", "items": {"type": "string"}}, {"type": "null"}],
                "description": "buildings the motion concerns; null: the whole area",
            },
            "voted": {
                "type": "boolean",
                "description": "a ballot of this voter counts on this motion (never its choice)",
            },
        },
    },
    "ProxyHeld": {
        "type": "object",
        "required": ["voter", "proxy", "instructions", "motions"],
        "properties": {
            "voter": _IDENTIFIER,
            "proxy": _HEX64,
            "instructions": {
                "oneOf": [{"type": "object"}, {"type": "null"}],
                "description": "the owner's instructions {motion id: choice}",
            },
            "motions": {"type": "array", "items": _ref("Motion")},
        },
    },
    "MeetingDetail": {
        "allOf": [
            _ref("MeetingSummary"),
            {
                "type": "object",
                "required": ["area", "rules", "voter", "motions", "proxies"],
                "properties": {
                    "area": _ref("Area"),
                    "rules": {
                        "oneOf": [
                            {
                                "type": "object",
                                "properties": {
                                    "allow_vote_change": {"type": "boolean"},
                                    "proxy_cap": {"type": "integer"},
                                },
                            },
                            {"type": "null"},
                        ]
                    },
                    "voter": _IDENTIFIER,
                    "motions": {"type": "array", "items": _ref("Motion")},
                    "proxies": {"type": "array", "items": _ref("ProxyHeld")},
                },
            },
        ]
    },
    "ChallengeRequest": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "voter": {
                **_IDENTIFIER,
                "description": "the owner's holder ref, to vote as their proxy",
            }
        },
    },
    "Challenge": {
        "type": "object",
        "required": [
            "platform",
            "area",
            "meeting",
            "roll",
            "voter",
            "credential",
            "time",
            "expires",
            "nonces",
            "proxy",
        ],
        "properties": {
            "platform": _IDENTIFIER,
            "area": _IDENTIFIER,
            "meeting": _ID,
            "roll": _HEX64,
            "voter": _IDENTIFIER,
            "credential": _HEX64,
            "time": _TIME,
            "expires": _TIME,
            "nonces": {
                "type": "object",
                "additionalProperties": {"type": "string", "pattern": "^[0-9a-f]{32}$"},
                "description": "motion id → nonce, for every motion the voter may vote on",
            },
            "proxy": {"oneOf": [_HEX64, {"type": "null"}]},
        },
    },
    "BallotRequest": {
        "type": "object",
        "additionalProperties": False,
        "required": ["statement", "signature"],
        "properties": {
            "statement": {**_B64URL, "description": "canonical ballot statement bytes"},
            "signature": {**_B64URL, "description": "64-byte Ed25519 signature"},
        },
    },
    "BallotAccepted": {
        "type": "object",
        "required": [
            "ballot_hash",
            "log_index",
            "time",
            "meeting",
            "motion",
            "counted",
            "receipt_url",
        ],
        "properties": {
            "ballot_hash": _HEX64,
            "log_index": {"type": "integer", "minimum": 0},
            "time": _TIME,
            "meeting": _ID,
            "motion": _ID,
            "counted": {"type": "boolean"},
            "receipt_url": {"type": "string"},
        },
    },
    "Receipt": {
        "type": "object",
        "required": [
            "ballot_hash",
            "area",
            "meeting",
            "motion",
            "time",
            "log_index",
            "counted",
            "by_proxy",
        ],
        "properties": {
            "ballot_hash": _HEX64,
            "area": _IDENTIFIER,
            "meeting": _ID,
            "motion": _ID,
            "time": _TIME,
            "log_index": {"type": "integer", "minimum": 0},
            "counted": {
                "type": "boolean",
                "description": "this ballot is the one that counts for its voter now",
            },
            "by_proxy": {"type": "boolean"},
        },
    },
    "Figures": {
        "type": "object",
        "description": "as computed by voting.services.results (docs/TALLY.md)",
    },
}

_RESPONSES = {
    400: "malformed body, wrong types, bad base64url, or a ballot that breaks the protocol",
    401: "no owner card session, or a signature that does not verify",
    403: "not allowed (scope, credential, card state, proxy)",
    404: "unknown id",
    405: "wrong method",
    409: "conflict (voting not open, already voted, nonce used)",
    410: "the nonce has expired",
    413: f"body larger than {MAX_BODY} bytes",
    415: "body not application/json",
    423: "the card is locked",
}

PATHS: dict[str, Any] = {
    "/api/v1/meetings": {
        "get": {
            "operationId": "listMeetings",
            "summary": "Meetings of the card's property area (not drafts), newest first",
            "security": _OWNER,
            "responses": {
                "200": _json(_ref("MeetingList"), "the meetings"),
                **_errors(401),
            },
        }
    },
    "/api/v1/meetings/{meeting_id}": {
        "get": {
            "operationId": "getMeeting",
            "summary": "A meeting with the motions the card's holder may vote on and proxies",
            "security": _OWNER,
            "parameters": [_MEETING_ID],
            "responses": {
                "200": _json(_ref("MeetingDetail"), "the meeting"),
                **_errors(401, 404),
            },
        }
    },
    "/api/v1/meetings/{meeting_id}/challenge": {
        "post": {
            "operationId": "ballotChallenge",
            "summary": "Nonces for the ballots of one voter (the card's holder, or an owner "
            "who authorised the card's holder as proxy)",
            "security": _OWNER,
            "parameters": [_MEETING_ID],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _ref("ChallengeRequest")}},
            },
            "responses": {
                "200": _json(_ref("Challenge"), "sign `statement` members built from this"),
                **_JSON_BODY_ERRORS,
                **_errors(403, 404, 409),
            },
        }
    },
    "/api/v1/ballots": {
        "post": {
            "operationId": "castBallot",
            "summary": "Cast a signed ballot (docs/PROTOCOL.md section 6.1)",
            "security": _OWNER,
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _ref("BallotRequest")}},
            },
            "responses": {
                "201": _json(_ref("BallotAccepted"), "stored, logged and counted"),
                **_JSON_BODY_ERRORS,
                **_errors(403, 404, 409, 410, 423),
            },
        }
    },
    "/api/v1/receipts/{ballot_hash}": {
        "get": {
            "operationId": "getReceipt",
            "summary": "Public receipt of a ballot: no choice, no voter",
            "security": [],
            "parameters": [
                {"name": "ballot_hash", "in": "path", "required": True, "schema": _HEX64}
            ],
            "responses": {"200": _json(_ref("Receipt"), "the receipt"), **_errors(404)},
        }
    },
    "/api/v1/meetings/{meeting_id}/turnout": {
        "get": {
            "operationId": "getTurnout",
            "summary": "Participation so far (owners of the area; staff who view meetings)",
            "security": [*_OWNER, {"staffSession": []}],
            "parameters": [_MEETING_ID],
            "responses": {
                "200": _json(_ref("Figures"), "participation"),
                **_errors(401, 403, 404, 409),
            },
        }
    },
    "/api/v1/meetings/{meeting_id}/results": {
        "get": {
            "operationId": "getResults",
            "summary": "Results of the meeting's motions, once voting has closed",
            "security": [*_OWNER, {"staffSession": []}],
            "parameters": [_MEETING_ID],
            "responses": {
                "200": _json(_ref("Figures"), "the results"),
                **_errors(401, 403, 404, 409),
            },
        }
    },
    "/api/v1/openapi.json": {
        "get": {
            "operationId": "getOpenApi",
            "summary": "This document",
            "security": [],
            "responses": {"200": {"description": "OpenAPI 3.1 document"}},
        }
    },
}


def contributed_paths() -> dict[str, Any]:
    """`OPENAPI_PATHS` of the contributing modules that exist, merged (methods of one path
    from several modules are combined)."""
    merged: dict[str, Any] = {}
    for name in CONTRIBUTORS:
        if importlib.util.find_spec(name) is None:
            continue
        paths = getattr(importlib.import_module(name), "OPENAPI_PATHS", None)
        for path, item in (paths or {}).items():
            merged.setdefault(path, {}).update(copy.deepcopy(item))
    return merged


def document() -> dict[str, Any]:
    paths = copy.deepcopy(PATHS)
    for path, item in contributed_paths().items():
        paths.setdefault(path, {}).update(item)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Owners' assembly voting platform API",
            "version": "1",
            "description": (
                "JSON API for owners' phones and kiosks. Errors are "
                '{"error": reason code, "message": text in the UI language}. POST bodies '
                f"are application/json of at most {MAX_BODY} bytes. Owner endpoints need "
                "the session cookie of a card login (/card/login)."
            ),
        },
        "servers": [{"url": "/"}],
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": copy.deepcopy(SCHEMAS),
            "responses": {
                f"E{code}": _json(_ref("Error"), text) for code, text in _RESPONSES.items()
            },
            "securitySchemes": {
                "cardSession": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": "session",
                    "description": "session of an owner's card login",
                },
                "staffSession": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": "session",
                    "description": "session of a staff login",
                },
            },
        },
    }
