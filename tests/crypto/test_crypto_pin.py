"""PIN and PUK: generation, format, argon2id hashing and verification."""

from __future__ import annotations

import nacl.pwhash.argon2id
import pytest

from crypto import pin
from crypto.errors import InvalidPinFormat, InvalidPinHash


def test_pin_generate_has_six_digits_with_leading_zeros() -> None:
    pins = [pin.generate_pin() for _ in range(2000)]
    assert all(len(code) == 6 and code.isascii() and code.isdigit() for code in pins)
    assert any(code.startswith("0") for code in pins)
    assert len(set(pins)) > 1900


def test_pin_generate_puk_has_eight_digits() -> None:
    puks = [pin.generate_puk() for _ in range(200)]
    assert all(pin.check_puk_format(code) == code for code in puks)


@pytest.mark.parametrize(
    "code",
    [
        "12345",
        "1234567",
        "12345a",
        "١٢٣٤٥٦",
        "１２３４５６",
        " 12345",
        "123456\n",
        "",
        123456,
        None,
    ],
)
def test_pin_format_rejects_other_strings(code: str) -> None:
    with pytest.raises(InvalidPinFormat, match="6 digits"):
        pin.check_pin_format(code)


def test_pin_format_rejects_pin_as_puk() -> None:
    with pytest.raises(InvalidPinFormat, match="8 digits"):
        pin.check_puk_format("123456")


def test_pin_hash_round_trip_and_wrong_pin() -> None:
    stored = pin.hash_pin("012345")
    assert stored.startswith("$argon2id$v=19$m=2048,t=2,p=1$")
    assert pin.verify_pin(stored, "012345") is True
    assert pin.verify_pin(stored, "012346") is False
    assert pin.needs_rehash(stored) is False


@pytest.mark.parametrize("code", ["12345", "0123456", "01234a", "", None, b"012345"])
def test_pin_verify_returns_false_for_malformed_pin(code: str) -> None:
    stored = "$argon2id$v=19$m=2048,t=2,p=1$AAECAwQFBgcICQoLDA0ODw$" + "A" * 43
    assert pin.verify_pin(stored, code) is False


def test_pin_puk_hash_round_trip() -> None:
    stored = pin.hash_puk("00000001")
    assert pin.verify_puk(stored, "00000001") is True
    assert pin.verify_puk(stored, "00000002") is False


def test_pin_hashes_are_salted() -> None:
    assert pin.hash_pin("111111") != pin.hash_pin("111111")


def test_pin_hash_refuses_malformed_pin() -> None:
    with pytest.raises(InvalidPinFormat):
        pin.hash_pin("1234")


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "garbage",
        "$argon2i$v=19$m=65536,t=2,p=1$AAECAwQFBgcICQoLDA0ODw$" + "A" * 43,
        "$argon2id$v=16$m=65536,t=2,p=1$AAECAwQFBgcICQoLDA0ODw$" + "A" * 43,
        "$argon2id$v=19$m=65536,t=2,p=2$AAECAwQFBgcICQoLDA0ODw$" + "A" * 43,
        "$argon2id$v=19$m=065536,t=2,p=1$AAECAwQFBgcICQoLDA0ODw$" + "A" * 43,
        "$argon2id$v=19$m=2048,t=2,p=1$AAECAwQFBgcICQoLDA0ODw$" + "A" * 42,
        "$argon2id$v=19$m=2048,t=2,p=1$AAECAwQFBgcICQoLDA0ODw==$" + "A" * 43,
        "$argon2id$v=19$m=2048,t=2,p=1$AAECAwQFBgcICQoLDA0ODw$" + "A" * 43 + "\n",
        "$argon2id$v=19$m=9999999999,t=2,p=1$AAECAwQFBgcICQoLDA0ODw$" + "A" * 43,
        "$argon2id$v=19$m=65536,t=99,p=1$AAECAwQFBgcICQoLDA0ODw$" + "A" * 43,
        None,
    ],
)
def test_pin_verify_raises_for_malformed_hash(stored: str) -> None:
    with pytest.raises(InvalidPinHash):
        pin.verify_pin(stored, "123456")


def test_pin_needs_rehash_for_other_parameters() -> None:
    older = nacl.pwhash.argon2id.str(b"123456", opslimit=3, memlimit=4 * 1024 * 1024)
    assert pin.needs_rehash(older.decode()) is True
    assert pin.verify_pin(older.decode(), "123456") is True
