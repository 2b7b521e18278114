"""Canonical JSON (RFC 8785, JCS) for the subset of JSON that signed statements use.

Allowed values: objects with string keys, arrays, strings, integers with magnitude at most
2**53 - 1, ``true``, ``false`` and ``null``. Floats are refused everywhere (areas and amounts
travel as decimal strings), because two implementations that round differently would sign
different bytes.

Signatures cover bytes, not values. ``parse_canonical`` therefore accepts only input that is
byte for byte the canonical encoding of what it parses to: there is exactly one accepted byte
string per statement, so nobody can alter a signed statement's bytes without breaking its
signature, and two parties never disagree on what was signed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TypeAlias

from crypto.errors import NonCanonical, UnsupportedValue

JSONValue: TypeAlias = bool | int | str | Sequence["JSONValue"] | Mapping[str, "JSONValue"] | None
JSONObject: TypeAlias = dict[str, JSONValue]

#: Largest integer magnitude I-JSON (RFC 7493) and JavaScript represent exactly.
MAX_SAFE_INTEGER = 2**53 - 1
#: Deepest nesting accepted; statements are flat, and the bound keeps recursion finite.
MAX_DEPTH = 32

# JCS string escaping (RFC 8785 §3.2.2.2): the two-character escapes where JSON has them,
# \u00xx (lowercase hex) for the other controls, everything else (including U+2028, U+2029,
# U+007F and "/") as itself.
_ESCAPE_TABLE = {code: f"\\u{code:04x}" for code in range(0x20)} | {
    ord('"'): '\\"',
    ord("\\"): "\\\\",
    ord("\b"): "\\b",
    ord("\t"): "\\t",
    ord("\n"): "\\n",
    ord("\f"): "\\f",
    ord("\r"): "\\r",
}


def canonical_bytes(value: JSONValue) -> bytes:
    """Encode ``value`` as RFC 8785 canonical JSON (UTF-8)."""
    parts: list[str] = []
    _encode(value, parts, 0)
    try:
        return "".join(parts).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise UnsupportedValue("a string contains a lone surrogate") from exc


def _utf16_key(key: str) -> bytes:
    """Sort key for object members: UTF-16 code units, as RFC 8785 §3.2.3 requires.

    Big-endian UTF-16 bytes compare exactly like the sequences of code units they encode.
    """
    return key.encode("utf-16-be", "surrogatepass")


def _encode(value: JSONValue, out: list[str], depth: int) -> None:
    if depth > MAX_DEPTH:
        raise UnsupportedValue(f"nesting deeper than {MAX_DEPTH} levels")
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            raise UnsupportedValue(f"integer {value} is outside ±(2**53 - 1)")
        out.append(str(int(value)))
    elif isinstance(value, str):
        out.append(f'"{value.translate(_ESCAPE_TABLE)}"')
    elif isinstance(value, Mapping):
        for key in value:
            if not isinstance(key, str):
                raise UnsupportedValue(f"object key {key!r} is not a string")
        out.append("{")
        for position, key in enumerate(sorted(value, key=_utf16_key)):
            if position:
                out.append(",")
            _encode(key, out, depth + 1)
            out.append(":")
            _encode(value[key], out, depth + 1)
        out.append("}")
    elif isinstance(value, list | tuple):
        out.append("[")
        for position, item in enumerate(value):
            if position:
                out.append(",")
            _encode(item, out, depth + 1)
        out.append("]")
    elif isinstance(value, float):
        raise UnsupportedValue("floats are not allowed; encode decimals as strings")
    else:
        raise UnsupportedValue(f"{type(value).__name__} cannot be encoded as canonical JSON")


def _reject_float(text: str) -> JSONValue:
    raise NonCanonical(f"number {text} is not an integer; floats and exponents are refused")


def _reject_constant(text: str) -> JSONValue:
    raise NonCanonical(f"{text} is not JSON")


def _object_without_duplicates(pairs: list[tuple[str, JSONValue]]) -> JSONObject:
    result: JSONObject = {}
    for key, item in pairs:
        if key in result:
            raise NonCanonical(f"duplicate object key {key!r}")
        result[key] = item
    return result


def parse_canonical(data: bytes) -> JSONObject:
    """Parse a JSON object, accepting only its exact canonical encoding.

    Refused: invalid UTF-8, a byte order mark, duplicate keys, floats and exponents, lone
    surrogates, integers beyond ±(2**53 - 1), whitespace, unsorted keys, needless escapes, and
    any other byte that canonical encoding would not produce. The input is never re-encoded for
    the caller: bytes that are not canonical are an error.
    """
    if not isinstance(data, bytes):
        raise NonCanonical("canonical JSON must be given as bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise NonCanonical(f"not valid UTF-8 at byte {exc.start}") from exc
    if text.startswith("\ufeff"):
        raise NonCanonical("a byte order mark is not allowed")
    try:
        value: object = json.loads(
            text,
            object_pairs_hook=_object_without_duplicates,
            parse_float=_reject_float,
            parse_constant=_reject_constant,
        )
    except NonCanonical:
        raise
    except json.JSONDecodeError as exc:
        raise NonCanonical(f"not JSON: {exc.msg} at character {exc.pos}") from exc
    except (ValueError, RecursionError) as exc:
        raise NonCanonical(f"not acceptable JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise NonCanonical("a statement must be a JSON object")
    try:
        encoded = canonical_bytes(value)
    except UnsupportedValue as exc:
        raise NonCanonical(str(exc)) from exc
    if encoded != data:
        raise NonCanonical("bytes are not the canonical encoding of the value they contain")
    return value
