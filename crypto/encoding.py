"""Strict text encodings of binary values.

Each binary value has exactly one accepted text form, so that a changed character in an export
is always detected instead of silently decoding to the same bytes.
"""

from __future__ import annotations

import base64
import binascii
import re

from crypto.errors import CryptoError

_LOWER_HEX = re.compile(r"[0-9a-f]*")


def hex_decode(text: str, size: int, what: str, error: type[CryptoError]) -> bytes:
    """Decode lowercase hex of exactly ``size`` bytes; uppercase and odd lengths are refused."""
    if not isinstance(text, str) or len(text) != 2 * size or not _LOWER_HEX.fullmatch(text):
        raise error(f"{what} must be {2 * size} lowercase hex digits")
    return bytes.fromhex(text)


def b64_decode_canonical(text: str, what: str, error: type[CryptoError]) -> bytes:
    """Decode standard padded base64 (RFC 4648 §4) that re-encodes to the very same text."""
    if not isinstance(text, str) or not text.isascii():
        raise error(f"{what} is not base64")
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise error(f"{what} is not base64") from exc
    if base64.b64encode(raw).decode("ascii") != text:
        raise error(f"{what} is not canonical base64")
    return raw


def b64_encode(raw: bytes) -> str:
    """Standard padded base64 (RFC 4648 §4), the form ``b64_decode_canonical`` accepts."""
    return base64.b64encode(raw).decode("ascii")
