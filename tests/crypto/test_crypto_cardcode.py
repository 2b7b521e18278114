"""Card numbers, backup codes, seed derivation and the QR payload."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crypto.cardcode import (
    ALPHABET,
    new_backup_code,
    normalize_backup_code,
    parse_qr_fragment,
    qr_fragment,
    seed_from_backup_code,
)
from crypto.errors import InvalidCardCode
from crypto.keys import CardKey

# Known answer: also in docs/PROTOCOL.md.
VECTOR_NUMBER = "NHXY-000123"
VECTOR_CODE = "7K3Q-9D2M-XW4T-H8RC-5NPB"
VECTOR_SEED = "4cc3e2ec892a55004d0afa03d21cdc77a72bd4f43813174de0b5e7b4f85b2b2a"


def test_cardcode_new_codes_are_grouped_and_random() -> None:
    codes = {new_backup_code() for _ in range(50)}
    assert len(codes) == 50
    for code in codes:
        groups = code.split("-")
        assert [len(g) for g in groups] == [4] * 5
        assert set("".join(groups)) <= set(ALPHABET)


def test_cardcode_normalize_forgives_case_spaces_and_lookalikes() -> None:
    assert normalize_backup_code("7k3q 9d2m-xw4t-h8rc-5npb") == "7K3Q9D2MXW4TH8RC5NPB"
    assert normalize_backup_code("OOOO-IIII-LLLL-0000-1111") == "00001111111100001111"


@pytest.mark.parametrize(
    "code", ["", "7K3Q-9D2M", "7K3Q-9D2M-XW4T-H8RC-5NPU", "7K3Q9D2MXW4TH8RC5NPB0"]
)
def test_cardcode_normalize_refuses_bad_codes(code: str) -> None:
    with pytest.raises(InvalidCardCode):
        normalize_backup_code(code)


def test_cardcode_seed_known_answer() -> None:
    seed = seed_from_backup_code(VECTOR_NUMBER, VECTOR_CODE)
    assert seed.hex() == VECTOR_SEED
    # Typed sloppily, the same seed.
    assert seed_from_backup_code(VECTOR_NUMBER, "7k3q9d2mxw4th8rc5npb") == seed


def test_cardcode_seed_depends_on_card_number() -> None:
    assert seed_from_backup_code("NHXY-000124", VECTOR_CODE) != seed_from_backup_code(
        VECTOR_NUMBER, VECTOR_CODE
    )


@pytest.mark.parametrize("number", ["nhxy-000123", "NHXY000123", "NHXY-12345", "", "A-0000001"])
def test_cardcode_refuses_bad_card_numbers(number: str) -> None:
    with pytest.raises(InvalidCardCode):
        seed_from_backup_code(number, VECTOR_CODE)


@given(st.binary(min_size=32, max_size=32))
def test_cardcode_qr_fragment_round_trip(seed: bytes) -> None:
    fragment = qr_fragment(VECTOR_NUMBER, seed)
    assert "=" not in fragment and "/" not in fragment and "+" not in fragment
    assert parse_qr_fragment(fragment) == (VECTOR_NUMBER, seed)


@pytest.mark.parametrize(
    "fragment",
    [
        "",
        "2.NHXY-000123.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "1.NHXY-000123.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "1.NHXY-000123.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB",  # non-canonical tail
        "1.NHXY-000123.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "1.NHXY-000123.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.x",
        "1.nhxy-000123.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    ],
)
def test_cardcode_parse_refuses_damaged_links(fragment: str) -> None:
    with pytest.raises(InvalidCardCode):
        parse_qr_fragment(fragment)


def test_cardcode_qr_seed_gives_the_card_key() -> None:
    seed = seed_from_backup_code(VECTOR_NUMBER, VECTOR_CODE)
    _, parsed = parse_qr_fragment(qr_fragment(VECTOR_NUMBER, seed))
    assert CardKey(parsed).public_key == CardKey(seed).public_key
