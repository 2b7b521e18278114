"""Credential certificates: the issuer key vouches that a card key belongs to a vote holder.

A certificate is a signed statement of type "certificate" (see ``crypto.statements``) with
exactly these members::

    {"area_code": ..., "card_key": <64 lowercase hex>, "card_number": ..., "holder_id": ...,
     "issuer_key_id": <16 lowercase hex>, "not_after": <RFC 3339>, "not_before": <RFC 3339>,
     "type": "certificate"}

The holder id is pseudonymous, so certificates can be published in an election record. A
certificate is valid at every instant from ``not_before`` to ``not_after``, both included.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime

from crypto.canonical import JSONObject
from crypto.errors import CertificateExpired, CertificateNotYetValid, InvalidCertificate
from crypto.keys import CardKey, PublicKey, load_or_create_seed_file
from crypto.statements import format_time, parse_time, sign_statement, verify_statement

CERTIFICATE_TYPE = "certificate"
#: Card numbers, holder ids and area codes: ASCII identifiers that survive URLs, CSV and QR.
IDENTIFIER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")

_MEMBERS = frozenset(
    {
        "type",
        "card_number",
        "holder_id",
        "area_code",
        "card_key",
        "not_before",
        "not_after",
        "issuer_key_id",
    }
)

#: The issuer seed file: created with mode 0600 on first use; refused if group or others can
#: read it. The same rules as any other seed file.
load_or_create_issuer_key = load_or_create_seed_file


@dataclass(frozen=True)
class Certificate:
    """A verified credential certificate together with the exact bytes that were signed."""

    card_number: str
    holder_id: str
    area_code: str
    card_key: PublicKey
    not_before: datetime
    not_after: datetime
    issuer_key_id: str
    data: bytes = field(repr=False)
    signature: bytes = field(repr=False)

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the certificate bytes, hex: what a ballot names as its credential."""
        return hashlib.sha256(self.data).hexdigest()

    def check_valid_at(self, at: datetime) -> None:
        """Raise unless ``at`` lies within [not_before, not_after]."""
        if at.tzinfo is None:
            raise ValueError("validity is checked at a timezone-aware time")
        if at < self.not_before:
            raise CertificateNotYetValid(
                f"certificate of card {self.card_number} is valid from "
                f"{format_time(self.not_before)}"
            )
        if at > self.not_after:
            raise CertificateExpired(
                f"certificate of card {self.card_number} expired at {format_time(self.not_after)}"
            )


def _identifier(statement: JSONObject, member: str) -> str:
    value = statement.get(member)
    if not isinstance(value, str) or not IDENTIFIER.fullmatch(value):
        raise InvalidCertificate(f"{member} {value!r} is not a valid identifier")
    return value


def _decode(statement: JSONObject, data: bytes, signature: bytes) -> Certificate:
    if statement.keys() != _MEMBERS:
        raise InvalidCertificate(
            f"certificate members must be exactly {sorted(_MEMBERS)}, got {sorted(statement)}"
        )
    card_key = statement["card_key"]
    issuer_key_id = statement["issuer_key_id"]
    if not isinstance(card_key, str) or not isinstance(issuer_key_id, str):
        raise InvalidCertificate("card_key and issuer_key_id must be strings")
    if not re.fullmatch(r"[0-9a-f]{16}", issuer_key_id):
        raise InvalidCertificate("issuer_key_id must be 16 lowercase hex digits")
    not_before = parse_time(statement["not_before"])
    not_after = parse_time(statement["not_after"])
    if not_before >= not_after:
        raise InvalidCertificate("not_before must lie before not_after")
    return Certificate(
        card_number=_identifier(statement, "card_number"),
        holder_id=_identifier(statement, "holder_id"),
        area_code=_identifier(statement, "area_code"),
        card_key=PublicKey.from_hex(card_key),
        not_before=not_before,
        not_after=not_after,
        issuer_key_id=issuer_key_id,
        data=data,
        signature=signature,
    )


def issue_certificate(
    issuer: CardKey,
    *,
    card_number: str,
    holder_id: str,
    area_code: str,
    card_key: PublicKey,
    not_before: datetime,
    not_after: datetime,
) -> Certificate:
    """Sign a certificate binding ``card_key`` to the card, holder and property area.

    Times are truncated to whole seconds. The result is decoded by the same code that verifies
    certificates, so the platform cannot issue a certificate its own verifier would refuse.
    """
    statement: JSONObject = {
        "type": CERTIFICATE_TYPE,
        "card_number": card_number,
        "holder_id": holder_id,
        "area_code": area_code,
        "card_key": card_key.hex(),
        "not_before": format_time(not_before),
        "not_after": format_time(not_after),
        "issuer_key_id": issuer.public_key.key_id,
    }
    data, signature = sign_statement(issuer, statement)
    return _decode(statement, data, signature)


def verify_certificate(
    issuer_key: PublicKey, data: bytes, signature: bytes, *, at: datetime
) -> Certificate:
    """Verify a certificate's signature, form and issuer, and its validity at ``at``."""
    statement = verify_statement(issuer_key, data, signature, expected_type=CERTIFICATE_TYPE)
    certificate = _decode(statement, data, signature)
    if certificate.issuer_key_id != issuer_key.key_id:
        raise InvalidCertificate(
            f"certificate names issuer key {certificate.issuer_key_id}, "
            f"but was verified with key {issuer_key.key_id}"
        )
    certificate.check_valid_at(at)
    return certificate
