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
from voting.domain.ballot import BallotError, parse_choice
from voting.domain.errors import DomainError
from voting.domain.members import (
    HEX64,
    IDENTIFIER,
    MAX_ID,
    NONCE,
    check_members,
    positive_id,
    text,
    time,
)
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
    check_members(
        statement, PROXY_TYPE, PROXY_MEMBERS, frozenset(), ProxyError, "a proxy authorisation"
    )
    moment, time_text = time(statement, ProxyError)
    owner = text(statement, "owner", IDENTIFIER, ProxyError)
    proxy = text(statement, "proxy", IDENTIFIER, ProxyError)
    if proxy == owner:
        raise ProxyError("an owner cannot be their own proxy", "proxy")
    return ProxyStatement(
        platform=text(statement, "platform", IDENTIFIER, ProxyError),
        area=text(statement, "area", IDENTIFIER, ProxyError),
        meeting=positive_id(statement, "meeting", ProxyError),
        roll=text(statement, "roll", HEX64, ProxyError),
        owner=owner,
        credential=text(statement, "credential", HEX64, ProxyError),
        proxy=proxy,
        instructions=_instructions(statement["instructions"]),
        nonce=text(statement, "nonce", NONCE, ProxyError),
        time=moment,
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
