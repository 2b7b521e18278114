"""Canonical JSON (RFC 8785 subset): encoding rules and strict parsing."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crypto.canonical import MAX_DEPTH, MAX_SAFE_INTEGER, canonical_bytes, parse_canonical
from crypto.errors import NonCanonical, UnsupportedValue


def test_canonical_rfc8785_key_sorting_by_utf16_code_units() -> None:
    # RFC 8785 §3.2.3: U+1F600 is the surrogate pair D83D DE00 and sorts before U+FB33,
    # although its code point is larger.
    value = {"\ufb33": 1, "\U0001f600": 2, "\u20ac": 3, "\u00f6": 4, "\u0080": 5, "1": 6, "\r": 7}
    assert canonical_bytes(value).decode() == (
        '{"\\r":7,"1":6,"\u0080":5,"\u00f6":4,"\u20ac":3,"\U0001f600":2,"\ufb33":1}'
    )


def test_canonical_rfc8785_string_escapes() -> None:
    # RFC 8785 §3.2.2.2: "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/"
    value = {"s": '\u20ac$\u000f\nA\'B"\\\\"/'}
    assert canonical_bytes(value) == '{"s":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'.encode()


@pytest.mark.parametrize(
    ("char", "encoded"),
    [
        ("\b", "\\b"),
        ("\t", "\\t"),
        ("\n", "\\n"),
        ("\f", "\\f"),
        ("\r", "\\r"),
        ("\u0000", "\\u0000"),
        ("\u000b", "\\u000b"),
        ("\u001f", "\\u001f"),
        ('"', '\\"'),
        ("\\", "\\\\"),
        ("/", "/"),
        ("\u007f", "\u007f"),
        ("\u2028", "\u2028"),
        ("\u2029", "\u2029"),
        ("<", "<"),
        ("\u00e9", "\u00e9"),
        ("\U0001f600", "\U0001f600"),
    ],
)
def test_canonical_string_escaping(char: str, encoded: str) -> None:
    assert canonical_bytes({"k": char}) == f'{{"k":"{encoded}"}}'.encode()


def test_canonical_literals_and_integers() -> None:
    value = {"n": [None, True, False, 0, -1, MAX_SAFE_INTEGER, -MAX_SAFE_INTEGER], "t": ()}
    assert canonical_bytes(value) == (
        b'{"n":[null,true,false,0,-1,9007199254740991,-9007199254740991],"t":[]}'
    )


@pytest.mark.parametrize(
    "value",
    [
        {"area": 89.5},
        {"a": [1, 2.0]},
        {"a": float("nan")},
        {"a": float("inf")},
        {"a": MAX_SAFE_INTEGER + 1},
        {"a": -MAX_SAFE_INTEGER - 1},
        {1: "a"},
        {"a": b"bytes"},
        {"a": {1, 2}},
        {"a": "\ud800"},
        {"\udc00": 1},
        {"a": object()},
    ],
)
def test_canonical_rejects_unsupported_values(value: Any) -> None:
    with pytest.raises(UnsupportedValue):
        canonical_bytes(value)


def test_canonical_rejects_deep_nesting() -> None:
    value: Any = []
    for _ in range(MAX_DEPTH + 1):
        value = [value]
    with pytest.raises(UnsupportedValue, match="nesting"):
        canonical_bytes({"a": value})


def test_canonical_parse_round_trip() -> None:
    data = b'{"a":[1,"\xe4\xb8\x9a",{"b":null}],"c":true}'
    assert parse_canonical(data) == {"a": [1, "业", {"b": None}], "c": True}


@pytest.mark.parametrize(
    "data",
    [
        b'{"a": 1}',  # insignificant whitespace
        b' {"a":1}',
        b'{"a":1}\n',
        b'{"b":1,"a":2}',  # unsorted keys
        b'{"a":1,"a":1}',  # duplicate keys
        b'{"a":1.0}',  # float
        b'{"a":1e2}',  # exponent
        b'{"a":1E2}',
        b'{"a":-0}',  # negative zero
        b'{"a":01}',  # leading zero
        b'{"a":9007199254740992}',  # beyond 2**53 - 1
        b'{"a":NaN}',
        b'{"a":Infinity}',
        b"\xef\xbb\xbf{}",  # byte order mark
        b'{"a":"\xff"}',  # invalid UTF-8
        b'{"a":"\xc0\xaf"}',  # overlong UTF-8
        b'{"a":"\xed\xa0\x80"}',  # UTF-8-encoded surrogate
        b'{"a":"\\ud800"}',  # escaped lone surrogate
        b'{"a":"\\ud83d\\ude00"}',  # escaped pair instead of the character
        b'{"a":"\\u0041"}',  # needless escape
        b'{"a":"\\/"}',
        b'{"a":"\\u001F"}',  # uppercase hex escape
        b'{"a":"\\u000a"}',  # \u000a instead of \n
        b'{"a":"\x01"}',  # raw control character
        b'{"a":[1,]}',
        b"[1]",  # not an object
        b'"a"',
        b"",
        b"{",
    ],
)
def test_canonical_parse_rejects_non_canonical(data: bytes) -> None:
    with pytest.raises(NonCanonical):
        parse_canonical(data)


def test_canonical_parse_rejects_deep_nesting() -> None:
    with pytest.raises(NonCanonical):
        parse_canonical(b'{"a":' + b"[" * 5000 + b"]" * 5000 + b"}")


def test_canonical_parse_rejects_huge_integer() -> None:
    with pytest.raises(NonCanonical):
        parse_canonical(b'{"a":' + b"9" * 5000 + b"}")


def test_canonical_parse_rejects_str_input() -> None:
    with pytest.raises(NonCanonical, match="bytes"):
        parse_canonical('{"a":1}')  # type: ignore[arg-type]


_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-MAX_SAFE_INTEGER, max_value=MAX_SAFE_INTEGER)
    | st.text()
)
_json = st.recursive(
    _scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=12,
)
_objects = st.dictionaries(st.text(max_size=6), _json, max_size=5)


@given(_objects)
def test_canonical_parse_accepts_every_canonical_encoding(value: dict[str, Any]) -> None:
    data = canonical_bytes(value)
    assert parse_canonical(data) == value
    assert canonical_bytes(parse_canonical(data)) == data


_bmp_text = st.text(st.characters(max_codepoint=0xFFFF, exclude_categories=["Cs"]), max_size=6)
_bmp_json = st.recursive(
    st.none() | st.booleans() | st.integers(-MAX_SAFE_INTEGER, MAX_SAFE_INTEGER) | _bmp_text,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(_bmp_text, children, max_size=4)
    ),
    max_leaves=12,
)


@given(st.dictionaries(_bmp_text, _bmp_json, max_size=5))
def test_canonical_matches_stdlib_json_for_bmp_keys(value: dict[str, Any]) -> None:
    # Within the Basic Multilingual Plane, UTF-16 order equals code point order and Python's
    # compact, sorted, non-ASCII json.dumps escapes exactly as RFC 8785 does.
    expected = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert canonical_bytes(value) == expected.encode()


@given(_objects, st.data())
def test_canonical_parse_rejects_any_inserted_space(value: dict[str, Any], data: Any) -> None:
    encoded = canonical_bytes(value)
    position = data.draw(st.integers(0, len(encoded)))
    changed = encoded[:position] + b" " + encoded[position:]
    try:
        reparsed = parse_canonical(changed)
    except NonCanonical:
        return
    # A space inside a string is a different value, not a different encoding of this one.
    assert reparsed != value
