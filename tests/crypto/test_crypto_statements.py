"""Signed statements: canonical bytes, type separation, signature and key checks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from crypto.errors import InvalidKey, InvalidSignature, InvalidStatement, NonCanonical
from crypto.keys import GROUP_ORDER, CardKey
from crypto.statements import (
    MAX_STATEMENT_SIZE,
    format_time,
    parse_time,
    sign_statement,
    verify_statement,
)

KEY = CardKey(bytes(range(32)))
BALLOT = {"type": "ballot", "motion": "2026-01-03", "choice": "yes", "nonce": "00" * 16}


def test_statements_sign_and_verify_round_trip() -> None:
    data, signature = sign_statement(KEY, BALLOT)
    assert data == (
        b'{"choice":"yes","motion":"2026-01-03","nonce":"00000000000000000000000000000000",'
        b'"type":"ballot"}'
    )
    assert verify_statement(KEY.public_key.raw, data, signature, expected_type="ballot") == BALLOT
    assert verify_statement(KEY.public_key, data, signature, expected_type="ballot") == BALLOT


def test_statements_reject_other_expected_type() -> None:
    data, signature = sign_statement(KEY, {**BALLOT, "type": "login"})
    with pytest.raises(InvalidStatement, match="expected 'ballot'"):
        verify_statement(KEY.public_key, data, signature, expected_type="ballot")


@pytest.mark.parametrize("statement_type", [None, "", "Ballot", "bal lot", 7, "x" * 33])
def test_statements_sign_requires_valid_type(statement_type: object) -> None:
    statement = {**BALLOT, "type": statement_type}
    if statement_type is None:
        del statement["type"]
    with pytest.raises(InvalidStatement, match="type"):
        sign_statement(KEY, statement)  # type: ignore[arg-type]


def test_statements_verify_requires_valid_expected_type() -> None:
    data, signature = sign_statement(KEY, BALLOT)
    with pytest.raises(InvalidStatement):
        verify_statement(KEY.public_key, data, signature, expected_type="Ballot")


def test_statements_reject_missing_type_even_when_signed() -> None:
    data = b'{"choice":"yes"}'
    with pytest.raises(InvalidStatement, match="statement type is None"):
        verify_statement(KEY.public_key, data, KEY.sign(data), expected_type="ballot")


@pytest.mark.parametrize(
    "data",
    [
        b'{"type": "ballot"}',
        b'{"type":"ballot","choice":"yes"}',
        b'{"type":"ballot"}\n',
        b'{"area":1.5,"type":"ballot"}',
    ],
)
def test_statements_reject_non_canonical_bytes_even_when_signed(data: bytes) -> None:
    with pytest.raises(NonCanonical):
        verify_statement(KEY.public_key, data, KEY.sign(data), expected_type="ballot")


def test_statements_reject_changed_byte() -> None:
    data, signature = sign_statement(KEY, BALLOT)
    changed = data.replace(b'"yes"', b'"no!"')
    with pytest.raises(InvalidSignature):
        verify_statement(KEY.public_key, changed, signature, expected_type="ballot")


def test_statements_reject_signature_with_s_plus_group_order() -> None:
    data, signature = sign_statement(KEY, BALLOT)
    s = int.from_bytes(signature[32:], "little")
    malleated = signature[:32] + (s + GROUP_ORDER).to_bytes(32, "little")
    with pytest.raises(InvalidSignature, match="non-canonical"):
        verify_statement(KEY.public_key, data, malleated, expected_type="ballot")


@pytest.mark.parametrize("length", [0, 32, 63, 65])
def test_statements_reject_signature_of_wrong_length(length: int) -> None:
    data, signature = sign_statement(KEY, BALLOT)
    with pytest.raises(InvalidSignature, match="64 bytes"):
        verify_statement(KEY.public_key, data, (signature * 2)[:length], expected_type="ballot")


@pytest.mark.parametrize(
    "public_key",
    [
        bytes(32),  # small order
        bytes.fromhex("01" + "00" * 31),  # identity
        bytes(31),
        b"",
    ],
)
def test_statements_reject_invalid_public_key(public_key: bytes) -> None:
    data, signature = sign_statement(KEY, BALLOT)
    with pytest.raises(InvalidKey):
        verify_statement(public_key, data, signature, expected_type="ballot")


def test_statements_reject_other_signer() -> None:
    data, signature = sign_statement(CardKey.generate(), BALLOT)
    with pytest.raises(InvalidSignature):
        verify_statement(KEY.public_key, data, signature, expected_type="ballot")


def test_statements_reject_oversized() -> None:
    with pytest.raises(InvalidStatement, match="larger"):
        sign_statement(KEY, {"type": "ballot", "pad": "x" * MAX_STATEMENT_SIZE})
    data = b'{"pad":"' + b"x" * MAX_STATEMENT_SIZE + b'","type":"ballot"}'
    with pytest.raises(InvalidStatement, match="at most"):
        verify_statement(KEY.public_key, data, KEY.sign(data), expected_type="ballot")


def test_statements_time_round_trip() -> None:
    moment = datetime(2026, 11, 25, 8, 0, 0, tzinfo=UTC)
    assert format_time(moment) == "2026-11-25T08:00:00Z"
    assert parse_time("2026-11-25T08:00:00Z") == moment


def test_statements_time_converts_to_utc_and_drops_fractions() -> None:
    beijing = timezone(timedelta(hours=8))
    moment = datetime(2026, 11, 25, 16, 0, 0, 999_999, tzinfo=beijing)
    assert format_time(moment) == "2026-11-25T08:00:00Z"
    assert format_time(datetime(999, 1, 2, tzinfo=UTC)) == "0999-01-02T00:00:00Z"


def test_statements_time_refuses_naive_datetime() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        format_time(datetime(2026, 11, 25, 8, 0, 0))


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-25T08:00:00.000Z",
        "2026-11-25T08:00:00+00:00",
        "2026-11-25T08:00:00z",
        "2026-11-25t08:00:00Z",
        "2026-11-25 08:00:00Z",
        "2026-11-25T08:00Z",
        "2026-02-30T08:00:00Z",
        "2026-12-31T23:59:60Z",
        "2026-11-25T24:00:00Z",
        "٢٠٢٦-11-25T08:00:00Z",
        "2026-11-25T08:00:00Z\n",
        20261125,
        None,
    ],
)
def test_statements_time_rejects_other_forms(text: str) -> None:
    with pytest.raises(InvalidStatement):
        parse_time(text)
