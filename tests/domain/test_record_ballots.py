"""Reading ballot statements in the verifier (voting.domain.verify.read_ballot): the fast
byte-for-byte path gives exactly what the general strict path gives, and refuses the same."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto.canonical import canonical_bytes, parse_canonical
from crypto.errors import CryptoError
from voting.domain.ballot import BallotError, parse_ballot
from voting.domain.verify import read_ballot

BALLOT: dict[str, Any] = {
    "type": "ballot",
    "platform": "vote.example.org",
    "area": "NHXY",
    "meeting": 3,
    "motion": 12,
    "roll": "ab" * 32,
    "voter": "HDTMUF6Q2",
    "credential": "cd" * 32,
    "choice": "yes",
    "nonce": "0f" * 16,
    "time": "2026-12-16T03:00:00Z",
}

CHOICES = [
    "yes",
    "abstain",
    "Contractor A",
    "业主委员会",
    "a,b",
    ["A"],
    ["A", "B,C"],
    ["一", "二"],
    'quote"d',
    "tab\t",
    "\u2028",
    "\U0001f600",
    ["x\\y"],
    [],
]


def _general(data: bytes) -> Any:
    try:
        return parse_ballot(parse_canonical(data))
    except (CryptoError, BallotError) as exc:
        return type(exc)


def _fast(data: bytes) -> Any:
    try:
        return read_ballot(data, {})
    except (CryptoError, BallotError) as exc:
        return type(exc)


@pytest.mark.parametrize("choice", CHOICES)
@pytest.mark.parametrize("proxy", [None, "ef" * 32])
def test_record_read_ballot_equals_the_general_path(choice: Any, proxy: str | None) -> None:
    value = {**BALLOT, "choice": choice}
    if proxy is not None:
        value["proxy"] = proxy
    data = canonical_bytes(value)
    assert _fast(data) == _general(data)
    assert read_ballot(data).choice == choice


@pytest.mark.parametrize(
    "data",
    [
        canonical_bytes(BALLOT).replace(b'"meeting":3', b'"meeting":03'),
        canonical_bytes(BALLOT).replace(b'"meeting":3', b'"meeting":9007199254740992'),
        canonical_bytes(BALLOT).replace(b'"choice":"yes"', b'"choice":"y\\u0065s"'),
        canonical_bytes(BALLOT).replace(b'"choice":"yes"', b'"choice":"\xff"'),
        canonical_bytes(BALLOT).replace(b",", b", ", 1),
        canonical_bytes({**BALLOT, "proxy": None}),
        canonical_bytes({**BALLOT, "extra": 1}),
        canonical_bytes(BALLOT).replace(b'"type":"ballot"', b'"type":"login"'),
        canonical_bytes(BALLOT).replace(b"03:00:00Z", b"03:00:60Z"),
    ],
)
def test_record_read_ballot_refuses_like_the_general_path(data: bytes) -> None:
    assert _fast(data) == _general(data)


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(st.text(max_size=6), st.lists(st.text(max_size=4), max_size=3)),
    st.integers(0, 2**53 + 2),
    st.data(),
)
def test_record_read_ballot_agrees_on_any_choice_id_and_change(
    choice: Any, meeting: int, data: Any
) -> None:
    try:
        encoded = canonical_bytes({**BALLOT, "choice": choice, "meeting": meeting})
    except CryptoError:
        return
    assert _fast(encoded) == _general(encoded)
    position = data.draw(st.integers(0, len(encoded) - 1))
    changed = (
        encoded[:position]
        + data.draw(st.sampled_from([b" ", b"0", b"\\", b'"']))
        + encoded[position + 1 :]
    )
    assert _fast(changed) == _general(changed)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.text(alphabet="0123456789abcdef", min_size=64, max_size=64), max_size=5),
    st.lists(
        st.tuples(
            st.text(min_size=1, max_size=6),
            st.one_of(st.text(max_size=5), st.frozensets(st.text(max_size=3), max_size=3)),
        ),
        max_size=4,
        unique_by=lambda pair: pair[0],
    ),
)
def test_record_results_input_hash_is_canonical_json(hashes: list[str], paper: Any) -> None:
    """The fast encoder of the counted-ballots hash writes crypto's canonical bytes."""
    import hashlib

    from voting.domain.verify_results import ballots_sha256, choice_value

    document = {
        "electronic": sorted(hashes),
        "paper": [[ref, choice_value(c)] for ref, c in sorted(paper, key=lambda p: p[0])],
    }
    try:
        expected = hashlib.sha256(canonical_bytes(document)).hexdigest()
    except CryptoError:
        return  # lone surrogates: never in a record (its JSON is refused first)
    assert ballots_sha256(hashes, paper) == expected
