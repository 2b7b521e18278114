"""Signed statements: canonical JSON objects signed with Ed25519.

The signed message is the canonical bytes of the statement and nothing else. Domain separation
comes from the statement itself: every statement carries a ``"type"`` member ("ballot",
"login", "proxy", "certificate", ...) and a verifier always states the type it expects, so a
signature made for one purpose can never be presented as another. Canonical bytes are a JSON
object and start with ``{``, so they never collide with checkpoint note text, which starts with
the log's origin line.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime

from crypto.canonical import JSONObject, JSONValue, canonical_bytes, parse_canonical
from crypto.errors import InvalidStatement
from crypto.keys import CardKey, PublicKey

#: What a statement's ``"type"`` may look like: short, lowercase ASCII.
STATEMENT_TYPE = re.compile(r"[a-z][a-z0-9_-]{0,31}")
#: Largest statement accepted, in bytes; real statements are well under 2 KiB.
MAX_STATEMENT_SIZE = 64 * 1024

_TIME = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})Z")


def _check_type(statement_type: object) -> str:
    if not isinstance(statement_type, str) or not STATEMENT_TYPE.fullmatch(statement_type):
        raise InvalidStatement(f"statement type {statement_type!r} is not a valid type name")
    return statement_type


def sign_statement(key: CardKey, statement: Mapping[str, JSONValue]) -> tuple[bytes, bytes]:
    """Return the statement's canonical bytes and the key's signature over exactly them."""
    _check_type(statement.get("type"))
    data = canonical_bytes(statement)
    if len(data) > MAX_STATEMENT_SIZE:
        raise InvalidStatement(f"statement is larger than {MAX_STATEMENT_SIZE} bytes")
    return data, key.sign(data)


def verify_statement(
    public_key: bytes | PublicKey, data: bytes, signature: bytes, *, expected_type: str
) -> JSONObject:
    """Check key, signature, canonical form and type; return the statement.

    The signature is checked before the bytes are parsed, so only authenticated bytes are ever
    interpreted.
    """
    _check_type(expected_type)
    if not isinstance(data, bytes) or len(data) > MAX_STATEMENT_SIZE:
        raise InvalidStatement(f"statement must be bytes of at most {MAX_STATEMENT_SIZE}")
    key = public_key if isinstance(public_key, PublicKey) else PublicKey(public_key)
    key.verify(data, signature)
    statement = parse_canonical(data)
    if statement.get("type") != expected_type:
        raise InvalidStatement(
            f"statement type is {statement.get('type')!r}, expected {expected_type!r}"
        )
    return statement


def format_time(moment: datetime) -> str:
    """RFC 3339 UTC with second precision ("2026-11-25T08:00:00Z"); fractions are dropped."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("a statement time must be timezone-aware")
    return moment.astimezone(UTC).replace(microsecond=0, tzinfo=None).isoformat() + "Z"


def parse_time(text: JSONValue) -> datetime:
    """Parse exactly the form ``format_time`` produces; anything else is refused."""
    match = _TIME.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise InvalidStatement(f"time {text!r} is not of the form YYYY-MM-DDTHH:MM:SSZ")
    year, month, day, hour, minute, second = (int(part) for part in match.groups())
    try:
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError as exc:
        raise InvalidStatement(f"time {text!r} is not a valid date and time") from exc
