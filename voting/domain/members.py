"""Reading the members of a signed statement strictly: the exact member set, identifiers,
hashes, nonces, ids and the time. Shared by the ballot and the proxy statement, so that
both refuse the same malformed input with the same words. Pure: no I/O.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Protocol

from crypto.canonical import JSONValue
from crypto.errors import InvalidStatement
from crypto.statements import parse_time

__all__ = [
    "HEX64",
    "IDENTIFIER",
    "MAX_ID",
    "NONCE",
    "FieldError",
    "check_members",
    "positive_id",
    "text",
    "time",
]

MAX_ID = 2**53 - 1
HEX64 = re.compile(r"[0-9a-f]{64}")
NONCE = re.compile(r"[0-9a-f]{32}")
IDENTIFIER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")


class FieldError(Protocol):
    """An error class taking a message and the offending member (or None)."""

    def __call__(self, message: str, field: str | None = None) -> Exception: ...


def check_members(
    statement: Mapping[str, JSONValue],
    statement_type: str,
    required: frozenset[str],
    optional: frozenset[str],
    error: FieldError,
    what: str,
) -> None:
    """The statement has this type, every required member and no unknown one."""
    if statement.get("type") != statement_type:
        raise error(f"statement is not {what}", "type")
    members = set(statement)
    missing = required - members
    if missing:
        raise error(f"members missing: {', '.join(sorted(missing))}")
    extra = members - required - optional
    if extra:
        raise error(f"unknown members: {', '.join(sorted(extra))}")


def text(
    statement: Mapping[str, JSONValue], name: str, pattern: re.Pattern[str], error: FieldError
) -> str:
    value = statement[name]
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise error(f"member {name!r} is malformed", name)
    return value


def positive_id(statement: Mapping[str, JSONValue], name: str, error: FieldError) -> int:
    value = statement[name]
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ID:
        raise error(f"member {name!r} must be a positive integer", name)
    return value


def time(statement: Mapping[str, JSONValue], error: FieldError) -> tuple[dt.datetime, str]:
    """The "time" member, parsed, and its text as signed."""
    value = statement["time"]
    try:
        moment = parse_time(value)
    except InvalidStatement as exc:
        raise error(str(exc), "time") from exc
    assert isinstance(value, str)
    return moment, value
