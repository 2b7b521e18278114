"""The proxy authorisation (委托书, docs/PROTOCOL.md section 6.6): its exact shape, the
owner's instructions and the cap on owners per proxy holder.

An owner authorises a proxy for one meeting in writing (Property Management Regulation
art. 12): the platform's writing is a statement of type "proxy" signed by the owner's card.
Shared by the server, which checks an authorisation as it arrives, and the offline verifier,
which checks it again from the export, so both read a statement the same way. Pure: no I/O.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from crypto.canonical import JSONValue, canonical_bytes
from crypto.errors import InvalidStatement
from crypto.statements import parse_time
from voting.domain.ballot import MAX_ID, BallotError, parse_choice
from voting.domain.errors import DomainError
from voting.domain.tally import Choice, MotionKind

__all__ = [
    "MAX_INSTRUCTIONS",
    "PROXY_MEMBERS",
    "PROXY_TYPE",
    "MotionChoices",
    "ProxyError",
    "ProxyStatement",
    "check_cap",
    "instructions_json",
    "parse_instructions",
    "parse_proxy",
]

PROXY_TYPE = "proxy"
PROXY_MEMBERS = frozenset(
    {
        "type",
        "platform",
        "area",
        "meeting",
        "roll",
        "owner",
        "credential",
        "proxy",
        "instructions",
        "nonce",
        "time",
    }
)
#: More instructions than this cannot name distinct motions of one meeting.
MAX_INSTRUCTIONS = 1000

_HEX64 = re.compile(r"[0-9a-f]{64}")
_NONCE = re.compile(r"[0-9a-f]{32}")
_IDENTIFIER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")
# A motion id as an object key: decimal, no sign, no leading zero.
_MOTION_KEY = re.compile(r"[1-9][0-9]{0,15}")


class ProxyError(DomainError):
    """A proxy statement or instruction that breaks the protocol; `field` names the member."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class ProxyStatement:
    platform: str
    area: str
    meeting: int
    roll: str
    owner: str
    credential: str
    proxy: str
    # Motion id -> the choice as the statement carries it (checked against the motion later).
    instructions: Mapping[int, JSONValue]
    nonce: str
    time: dt.datetime
    time_text: str


@dataclass(frozen=True, slots=True)
class MotionChoices:
    """What a choice is checked against: the motion's kind, option labels and seats."""

    kind: MotionKind
    options: Sequence[str]
    seats: int


def _text(statement: Mapping[str, JSONValue], name: str, pattern: re.Pattern[str]) -> str:
    value = statement[name]
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise ProxyError(f"member {name!r} is malformed", name)
    return value


def _id(statement: Mapping[str, JSONValue], name: str) -> int:
    value = statement[name]
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ID:
        raise ProxyError(f"member {name!r} must be a positive integer", name)
    return value


def _instructions(value: JSONValue) -> dict[int, JSONValue]:
    """The instructions object: motion id keys, string or list-of-strings values."""
    if not isinstance(value, dict):
        raise ProxyError("member 'instructions' must be an object", "instructions")
    if len(value) > MAX_INSTRUCTIONS:
        raise ProxyError("member 'instructions' names too many motions", "instructions")
    result: dict[int, JSONValue] = {}
    for key, choice in value.items():
        if not _MOTION_KEY.fullmatch(key) or int(key) > MAX_ID:
            raise ProxyError(f"instruction key {key!r} is not a motion id", "instructions")
        if not (
            isinstance(choice, str)
            or (isinstance(choice, list) and all(isinstance(item, str) for item in choice))
        ):
            raise ProxyError(f"the instruction for motion {key} is malformed", "instructions")
        result[int(key)] = choice
    return result


def parse_proxy(statement: Mapping[str, JSONValue]) -> ProxyStatement:
    """Check the members and their types; instructions are checked against the motions later
    (`parse_instructions`). A proxy who is the owner is refused here."""
    if statement.get("type") != PROXY_TYPE:
        raise ProxyError("statement is not a proxy authorisation", "type")
    members = set(statement)
    missing = PROXY_MEMBERS - members
    if missing:
        raise ProxyError(f"members missing: {', '.join(sorted(missing))}")
    extra = members - PROXY_MEMBERS
    if extra:
        raise ProxyError(f"unknown members: {', '.join(sorted(extra))}")
    time_text = statement["time"]
    try:
        time = parse_time(time_text)
    except InvalidStatement as exc:
        raise ProxyError(str(exc), "time") from exc
    assert isinstance(time_text, str)
    owner = _text(statement, "owner", _IDENTIFIER)
    proxy = _text(statement, "proxy", _IDENTIFIER)
    if proxy == owner:
        raise ProxyError("an owner cannot be their own proxy", "proxy")
    return ProxyStatement(
        platform=_text(statement, "platform", _IDENTIFIER),
        area=_text(statement, "area", _IDENTIFIER),
        meeting=_id(statement, "meeting"),
        roll=_text(statement, "roll", _HEX64),
        owner=owner,
        credential=_text(statement, "credential", _HEX64),
        proxy=proxy,
        instructions=_instructions(statement["instructions"]),
        nonce=_text(statement, "nonce", _NONCE),
        time=time,
        time_text=time_text,
    )


def parse_instructions(
    instructions: Mapping[int, JSONValue], motions: Mapping[int, MotionChoices]
) -> dict[int, Choice]:
    """Each instruction as the tally's choice; `motions` are those the owner may vote on.

    An instruction for any other motion, or a choice the motion does not offer, is refused:
    the proxy could never follow it.
    """
    result: dict[int, Choice] = {}
    for motion_id in sorted(instructions):
        spec = motions.get(motion_id)
        if spec is None:
            raise ProxyError(
                f"motion {motion_id} is not one the owner may vote on in this meeting",
                "instructions",
            )
        try:
            result[motion_id] = parse_choice(
                spec.kind, spec.options, spec.seats, instructions[motion_id]
            )
        except BallotError as exc:
            raise ProxyError(f"motion {motion_id}: {exc}", "instructions") from exc
    return result


def instructions_json(instructions: Mapping[int, Choice]) -> str | None:
    """Canonical JSON {"<motion id>": choice} as stored, or None for no instruction."""
    if not instructions:
        return None
    value: dict[str, JSONValue] = {
        str(motion_id): sorted(choice) if isinstance(choice, frozenset) else choice
        for motion_id, choice in instructions.items()
    }
    return canonical_bytes(value).decode()


def check_cap(held: int, cap: int) -> None:
    """Refuse one more owner for a proxy holder who already represents `held` owners."""
    if cap < 1:
        raise ProxyError("the proxy cap must be at least 1")
    if held >= cap:
        raise ProxyError(
            f"this proxy already represents {held} owners, the most the rules of procedure "
            f"allow ({cap})",
            "proxy",
        )
