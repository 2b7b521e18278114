"""The worked login vector of docs/PROTOCOL.md section 6.5, recomputed and checked against
the document itself and the login service's own checks."""

from __future__ import annotations

import re
from pathlib import Path

from crypto.canonical import canonical_bytes
from crypto.cardcode import (
    normalize_backup_code,
    parse_qr_fragment,
    qr_fragment,
    seed_from_backup_code,
)
from crypto.keys import CardKey
from crypto.statements import verify_statement
from voting.services.card_login import LOGIN_MEMBERS, LOGIN_TYPE

PROTOCOL = Path(__file__).resolve().parents[2] / "docs" / "PROTOCOL.md"
PKCS8_PREFIX = bytes.fromhex("302e020100300506032b657004220420")

CARD = "NHXY-000001"
TYPED = "7k3q 9d2m-4txb-hw8r-c5np"
NORMALISED = "7K3Q9D2M4TXBHW8RC5NP"
SEED = "11e360eeb1a38e26e58ff196911ea976f3bd7ae028bff55a0f273cbd24ada36b"
PUBLIC_KEY = "7e8eb024c6ab1e62ea4a5df94a9f5b7dcdb950b8898fbe4d1427327c1b0213e9"
FRAGMENT = "1.NHXY-000001.EeNg7rGjjiblj_GWkR6pdvO9euAov_VaDyc8vSSto2s"
STATEMENT = (
    '{"card_number":"NHXY-000001","nonce":"000102030405060708090a0b0c0d0e0f",'
    '"platform":"vote.example.org","time":"2026-11-25T09:29:40Z","type":"login"}'
)
SIGNATURE = (
    "a95c0afccba9643c9deb9e08f08848c507eb83268236dd77dfe65addcac1b642"
    "6b6e59eb8a7da592a9b20750ba3d5b87d9485cdfcfe65b474323662964395c0e"
)


def _documented() -> dict[str, str]:
    section = PROTOCOL.read_text(encoding="utf-8").split("### 6.5", 1)[1].split("```")[1]
    rows = (re.match(r"(\S+(?: \S+)?)\s{2,}(\S+)", line) for line in section.splitlines())
    return {row.group(1): row.group(2) for row in rows if row}


def test_card_login_vector_derivation() -> None:
    assert normalize_backup_code(TYPED) == NORMALISED
    seed = seed_from_backup_code(CARD, TYPED)
    assert seed.hex() == SEED
    key = CardKey(seed)
    assert key.public_key.hex() == PUBLIC_KEY
    assert qr_fragment(CARD, seed) == FRAGMENT
    assert parse_qr_fragment(FRAGMENT) == (CARD, seed)


def test_card_login_vector_statement_and_signature() -> None:
    statement = {
        "type": LOGIN_TYPE,
        "platform": "vote.example.org",
        "card_number": CARD,
        "nonce": "000102030405060708090a0b0c0d0e0f",
        "time": "2026-11-25T09:29:40Z",
    }
    assert statement.keys() == LOGIN_MEMBERS
    data = canonical_bytes(statement)
    assert data == STATEMENT.encode("ascii")
    key = CardKey(bytes.fromhex(SEED))
    assert key.sign(data).hex() == SIGNATURE
    parsed = verify_statement(
        key.public_key, data, bytes.fromhex(SIGNATURE), expected_type=LOGIN_TYPE
    )
    assert parsed == statement


def test_card_login_vector_matches_the_document() -> None:
    documented = _documented()
    assert documented["card number"] == CARD
    assert documented["normalised"] == NORMALISED
    assert documented["seed"] == SEED
    assert documented["PKCS#8"] == (PKCS8_PREFIX + bytes.fromhex(SEED)).hex()
    assert documented["public key"] == PUBLIC_KEY
    assert documented["QR fragment"] == FRAGMENT
    assert documented["statement"] == STATEMENT
    assert documented["signature"] == SIGNATURE
