"""The proxy statement's shape, the owner's instructions and the cap (pure)."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from crypto.canonical import canonical_bytes, parse_canonical
from crypto.keys import CardKey
from crypto.statements import verify_statement
from voting.domain.proxy import (
    MAX_INSTRUCTIONS,
    PROXY_MEMBERS,
    MotionChoices,
    ProxyError,
    check_cap,
    instructions_json,
    parse_instructions,
    parse_proxy,
)
from voting.domain.tally import MotionKind

GOOD: dict[str, Any] = {
    "type": "proxy",
    "platform": "vote.example.org",
    "area": "NHXY",
    "meeting": 7,
    "roll": "a" * 64,
    "owner": "HABCDEFGH",
    "credential": "b" * 64,
    "proxy": "PX-1",
    "instructions": {"12": "yes", "14": ["Candidate 1", "Candidate 3"]},
    "nonce": "0" * 32,
    "time": "2026-12-16T03:00:00Z",
}

MOTIONS = {
    12: MotionChoices(MotionKind.YES_NO, (), 0),
    13: MotionChoices(MotionKind.CHOICE, ("Contractor A", "Contractor B"), 0),
    14: MotionChoices(MotionKind.ELECTION, ("Candidate 1", "Candidate 2", "Candidate 3"), 2),
}


def _with(**changes: Any) -> dict[str, Any]:
    statement = dict(GOOD)
    for name, value in changes.items():
        if value is ...:
            statement.pop(name)
        else:
            statement[name] = value
    return statement


def test_proxy_parses_a_good_statement() -> None:
    parsed = parse_proxy(parse_canonical(canonical_bytes(GOOD)))
    assert parsed.meeting == 7 and parsed.owner == "HABCDEFGH" and parsed.proxy == "PX-1"
    assert parsed.instructions == {12: "yes", 14: ["Candidate 1", "Candidate 3"]}
    assert parsed.time_text == "2026-12-16T03:00:00Z" and parsed.time.tzinfo is not None
    assert set(GOOD) == PROXY_MEMBERS


def test_proxy_empty_instructions_are_allowed() -> None:
    assert parse_proxy(_with(instructions={})).instructions == {}


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"type": "ballot"}, "type"),
        ({"type": ...}, "type"),
        ({"meeting": "7"}, "meeting"),
        ({"meeting": 0}, "meeting"),
        ({"meeting": True}, "meeting"),
        ({"meeting": 2**53}, "meeting"),
        ({"roll": "A" * 64}, "roll"),
        ({"credential": "b" * 63}, "credential"),
        ({"owner": ""}, "owner"),
        ({"owner": "王伟"}, "owner"),
        ({"proxy": None}, "proxy"),
        ({"proxy": "HABCDEFGH"}, "proxy"),  # the owner themself
        ({"nonce": "0" * 31}, "nonce"),
        ({"nonce": "G" * 32}, "nonce"),
        ({"time": "2026-12-16T03:00:00.5Z"}, "time"),
        ({"time": "2026-12-16 03:00:00"}, "time"),
        ({"instructions": None}, "instructions"),
        ({"instructions": []}, "instructions"),
        ({"instructions": {"012": "yes"}}, "instructions"),
        ({"instructions": {"0": "yes"}}, "instructions"),
        ({"instructions": {"-1": "yes"}}, "instructions"),
        ({"instructions": {"first": "yes"}}, "instructions"),
        ({"instructions": {str(2**53): "yes"}}, "instructions"),
        ({"instructions": {"12": 1}}, "instructions"),
        ({"instructions": {"12": None}}, "instructions"),
        ({"instructions": {"12": ["A", 1]}}, "instructions"),
        ({"instructions": {"12": {"choice": "yes"}}}, "instructions"),
    ],
)
def test_proxy_refuses_malformed_members(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(ProxyError) as refused:
        parse_proxy(_with(**changes))
    assert refused.value.field == field


@pytest.mark.parametrize("name", sorted(PROXY_MEMBERS - {"type"}))
def test_proxy_refuses_a_missing_member(name: str) -> None:
    with pytest.raises(ProxyError, match="members missing"):
        parse_proxy(_with(**{name: ...}))


def test_proxy_refuses_unknown_members() -> None:
    with pytest.raises(ProxyError, match="unknown members: choice"):
        parse_proxy(_with(choice="yes"))


def test_proxy_refuses_too_many_instructions() -> None:
    many = {str(i): "yes" for i in range(1, MAX_INSTRUCTIONS + 2)}
    with pytest.raises(ProxyError, match="too many"):
        parse_proxy(_with(instructions=many))


def test_proxy_instructions_checked_against_the_motions() -> None:
    choices = parse_instructions(
        {12: "no", 13: "Contractor B", 14: ["Candidate 1", "Candidate 2"]}, MOTIONS
    )
    assert choices == {
        12: "no",
        13: "Contractor B",
        14: frozenset({"Candidate 1", "Candidate 2"}),
    }
    assert parse_instructions({14: "abstain"}, MOTIONS) == {14: "abstain"}


@pytest.mark.parametrize(
    ("instructions", "text"),
    [
        ({99: "yes"}, "motion 99 is not one the owner may vote on"),
        ({12: "maybe"}, "motion 12: choice must be"),
        ({13: "Contractor C"}, "motion 13: choice is not one"),
        ({14: ["Candidate 1", "Candidate 2", "Candidate 3"]}, "more candidates than the 2 seats"),
        ({14: ["Candidate 3", "Candidate 1"]}, "ascending"),
        ({14: []}, "non-empty list"),
    ],
)
def test_proxy_instruction_that_cannot_be_followed_is_refused(
    instructions: dict[int, Any], text: str
) -> None:
    with pytest.raises(ProxyError, match=text) as refused:
        parse_instructions(instructions, MOTIONS)
    assert refused.value.field == "instructions"


def test_proxy_instructions_json_is_canonical() -> None:
    text = instructions_json({14: frozenset({"Candidate 3", "Candidate 1"}), 12: "yes"})
    assert text == '{"12":"yes","14":["Candidate 1","Candidate 3"]}'
    assert instructions_json({}) is None


def test_proxy_cap() -> None:
    check_cap(0, 1)
    check_cap(1, 2)
    with pytest.raises(ProxyError, match="most the rules of procedure allow \\(2\\)"):
        check_cap(2, 2)
    with pytest.raises(ProxyError):
        check_cap(0, 0)


def test_proxy_protocol_vector() -> None:
    """The worked example of docs/PROTOCOL.md section 6.6."""
    data = (
        b'{"area":"110101-001","credential":"3a0b48c50deea7c49f35a6dd00de9a7ee7c960755dee6612'
        b'0a3fce4d6c79b243","instructions":{"2":"yes","3":["Candidate 1","Candidate 3"]},'
        b'"meeting":1,"nonce":"202122232425262728292a2b2c2d2e2f","owner":"h-7f3a9c21",'
        b'"platform":"vote.example.org","proxy":"PX-1","roll":"967d8d709d82a9a68517eb651fc76'
        b'4fa5ce4e02de5156c75ce2b7be4945c7719","time":"2026-11-25T09:31:00Z","type":"proxy"}'
    )
    signature = bytes.fromhex(
        "5d34db6e0406d0eaeb8f20f666700f8fb1ce44c5abc945c1b1910442ed862011"
        "cce2b9241cbd9f2fe7b40831d732e29c33f1407e861aa5b61c75627999e2a00b"
    )
    key = CardKey(bytes(range(32))).public_key
    parsed = parse_proxy(verify_statement(key, data, signature, expected_type="proxy"))
    assert parsed.proxy == "PX-1" and parsed.instructions[3] == ["Candidate 1", "Candidate 3"]
    assert hashlib.sha256(data).hexdigest() == (
        "590d94233850361f27fc87b052e6156b03e6994fe5d77d93e1eb9282a737131d"
    )
    assert CardKey(bytes(range(32))).sign(data) == signature
