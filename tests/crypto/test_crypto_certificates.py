"""Credential certificates: issue, verify, validity window, issuer, issuer key file."""

from __future__ import annotations

import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from crypto.certificates import (
    Certificate,
    issue_certificate,
    load_or_create_issuer_key,
    verify_certificate,
)
from crypto.errors import (
    CertificateExpired,
    CertificateNotYetValid,
    InsecureKeyFile,
    InvalidCertificate,
    InvalidKey,
    InvalidSignature,
    InvalidStatement,
)
from crypto.keys import CardKey
from crypto.statements import sign_statement

ISSUER = CardKey(bytes(range(0x20, 0x40)))
CARD = CardKey(bytes(range(32)))
START = datetime(2026, 11, 25, 8, 0, 0, tzinfo=UTC)
END = datetime(2027, 11, 25, 8, 0, 0, tzinfo=UTC)
ONE_SECOND = timedelta(seconds=1)


def _issue(**changes: Any) -> Certificate:
    fields: dict[str, Any] = {
        "card_number": "C-000001",
        "holder_id": "h-7f3a9c21",
        "area_code": "110101-001",
        "card_key": CARD.public_key,
        "not_before": START,
        "not_after": END,
    }
    return issue_certificate(ISSUER, **(fields | changes))


def _members(**changes: Any) -> dict[str, Any]:
    members = {
        "type": "certificate",
        "card_number": "C-000001",
        "holder_id": "h-7f3a9c21",
        "area_code": "110101-001",
        "card_key": CARD.public_key.hex(),
        "not_before": "2026-11-25T08:00:00Z",
        "not_after": "2027-11-25T08:00:00Z",
        "issuer_key_id": ISSUER.public_key.key_id,
    }
    return {key: value for key, value in (members | changes).items() if value is not None}


def test_certificates_issue_and_verify_round_trip() -> None:
    issued = _issue()
    verified = verify_certificate(ISSUER.public_key, issued.data, issued.signature, at=START)
    assert verified == issued
    assert verified.card_key == CARD.public_key
    assert verified.not_before == START and verified.not_after == END
    assert verified.issuer_key_id == ISSUER.public_key.key_id
    assert len(verified.fingerprint) == 64


def test_certificates_validity_bounds_are_inclusive() -> None:
    issued = _issue()
    for at in (START, END, START + timedelta(days=100)):
        verify_certificate(ISSUER.public_key, issued.data, issued.signature, at=at)


def test_certificates_reject_expired() -> None:
    issued = _issue()
    with pytest.raises(CertificateExpired, match="expired at 2027-11-25T08:00:00Z"):
        verify_certificate(ISSUER.public_key, issued.data, issued.signature, at=END + ONE_SECOND)


def test_certificates_reject_not_yet_valid() -> None:
    issued = _issue()
    with pytest.raises(CertificateNotYetValid, match="valid from 2026-11-25T08:00:00Z"):
        verify_certificate(ISSUER.public_key, issued.data, issued.signature, at=START - ONE_SECOND)


def test_certificates_reject_naive_time_of_use() -> None:
    issued = _issue()
    with pytest.raises(ValueError, match="timezone-aware"):
        verify_certificate(
            ISSUER.public_key, issued.data, issued.signature, at=datetime(2027, 1, 1)
        )


def test_certificates_reject_wrong_issuer() -> None:
    issued = _issue()
    with pytest.raises(InvalidSignature):
        verify_certificate(CardKey.generate().public_key, issued.data, issued.signature, at=START)


def test_certificates_reject_issuer_key_id_of_another_key() -> None:
    data, signature = sign_statement(ISSUER, _members(issuer_key_id="0123456789abcdef"))
    with pytest.raises(InvalidCertificate, match="names issuer key 0123456789abcdef"):
        verify_certificate(ISSUER.public_key, data, signature, at=START)


def test_certificates_reject_changed_byte() -> None:
    issued = _issue()
    changed = issued.data.replace(b"C-000001", b"C-000002")
    with pytest.raises(InvalidSignature):
        verify_certificate(ISSUER.public_key, changed, issued.signature, at=START)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"extra": "x"}, "exactly"),
        ({"holder_id": None}, "exactly"),
        ({"card_number": "C 1"}, "identifier"),
        ({"area_code": ""}, "identifier"),
        ({"holder_id": 7}, "identifier"),
        ({"card_key": CARD.public_key.hex().upper()}, "lowercase hex"),
        ({"card_key": "00" * 32}, "prime-order"),
        ({"card_key": 5}, "strings"),
        ({"issuer_key_id": "ABCDEF0123456789"}, "16 lowercase hex"),
        ({"not_before": "2026-11-25 08:00:00"}, "YYYY-MM-DD"),
        ({"not_after": "2026-11-25T08:00:00Z"}, "before not_after"),
    ],
)
def test_certificates_reject_malformed_members(changes: dict[str, Any], message: str) -> None:
    data, signature = sign_statement(ISSUER, _members(**changes))
    with pytest.raises((InvalidStatement, InvalidKey), match=message):
        verify_certificate(ISSUER.public_key, data, signature, at=START)


def test_certificates_reject_statement_of_other_type() -> None:
    data, signature = sign_statement(ISSUER, _members(type="ballot"))
    with pytest.raises(InvalidStatement, match="expected 'certificate'"):
        verify_certificate(ISSUER.public_key, data, signature, at=START)


@pytest.mark.parametrize(
    "changes",
    [
        {"not_after": START},
        {"not_after": START - ONE_SECOND},
        {"card_number": "C-0001\n"},
        {"holder_id": "张三"},
        {"area_code": "a" * 65},
    ],
)
def test_certificates_issue_refuses_invalid_fields(changes: dict[str, Any]) -> None:
    with pytest.raises(InvalidCertificate):
        _issue(**changes)


def test_certificates_issue_truncates_to_seconds() -> None:
    issued = _issue(not_before=START + timedelta(microseconds=900_000))
    assert issued.not_before == START


def test_certificates_issuer_key_file_created_with_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / "issuer.key"
    key = load_or_create_issuer_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_issuer_key(path).public_key == key.public_key


def test_certificates_issuer_key_file_refused_at_0644(tmp_path: Path) -> None:
    path = tmp_path / "issuer.key"
    path.write_bytes(bytes(32))
    path.chmod(0o644)
    with pytest.raises(InsecureKeyFile):
        load_or_create_issuer_key(path)
