"""Owner login with the card: a one-time challenge signed by the card key, then the PIN.

    issue_challenge(session, card_number, client_addr, platform=…) -> Challenge
    log_in_with_card(session, statement, signature, pin, platform=…) -> Card
    owner_units(session, card) -> (roll version, [OwnerUnit])

The challenge is a fresh 16-byte nonce and the time it was issued; the owner's browser signs
the login statement of docs/PROTOCOL.md section 6.2 with the card key and sends it with the
PIN. Each challenge allows exactly one attempt, whatever its outcome: it is marked used as
soon as a statement naming it arrives. The signature is checked (against the key in the
card's certificate, which must be valid now) before the card's state or the PIN, so that
only the card's holder learns whether the card is revoked or locked, and a forged login never
touches the PIN counter.

Refusals raise `LoginRefused` with a `reason`; the web layer turns it into a status and a
message. The challenge's use and the PIN counter are committed even then.

Rate limits are counted in the database (so they hold across workers): challenges per card
and per client address within `RATE_WINDOW`. The client address is whatever the web layer
passes: behind a reverse proxy that must be the real client (configure ProxyFix).
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from crypto.canonical import parse_canonical
from crypto.certificates import verify_certificate
from crypto.errors import CertificateExpired, CertificateNotYetValid, CryptoError
from crypto.keys import PublicKey
from crypto.statements import MAX_STATEMENT_SIZE, format_time, verify_statement
from voting.db import begin_write
from voting.domain.roll import natural_key
from voting.models import (
    Building,
    Card,
    CardStatus,
    IssuerKey,
    LoginChallenge,
    PropertyArea,
    RollEntry,
    RollVersion,
    Unit,
    utcnow,
)
from voting.services import ServiceError
from voting.services.cards import card_by_number, check_pin
from voting.services.roll import current_version

LOGIN_TYPE = "login"
LOGIN_MEMBERS = frozenset({"type", "platform", "card_number", "nonce", "time"})
NONCE_BYTES = 16
#: How long a challenge may be answered.
CHALLENGE_LIFETIME = dt.timedelta(minutes=5)
#: Window of the rate limits; challenges older than this are deleted.
RATE_WINDOW = dt.timedelta(minutes=10)
MAX_CHALLENGES_PER_CARD = 10
MAX_CHALLENGES_PER_ADDRESS = 100
_NONCE = re.compile(r"[0-9a-f]{32}")
_ADDRESS_LENGTH = LoginChallenge.__table__.c.client_addr.type.length  # type: ignore[attr-defined]

Reason = Literal[
    "malformed",  # not canonical JSON, or members missing, extra or wrong
    "unknown_card",  # no card with this number
    "unknown_challenge",  # the nonce was never issued (or is long gone)
    "expired_challenge",  # issued more than CHALLENGE_LIFETIME ago
    "used_challenge",  # already answered once
    "bad_signature",  # not signed by this card's key
    "certificate",  # the card's certificate is not valid now
    "revoked",
    "locked",
    "wrong_pin",
    "rate_limited",
]


class LoginRefused(ServiceError):
    """A refused challenge or login; `remaining` is set for a wrong PIN."""

    def __init__(self, reason: Reason, detail: str = "", remaining: int | None = None) -> None:
        super().__init__(detail or reason)
        self.reason: Reason = reason
        self.remaining = remaining


@dataclass(frozen=True)
class Challenge:
    platform: str
    card_number: str
    nonce: str
    time: str
    expires_at: dt.datetime

    def statement(self) -> dict[str, str]:
        """The login statement that answers this challenge (before signing)."""
        return {
            "type": LOGIN_TYPE,
            "platform": self.platform,
            "card_number": self.card_number,
            "nonce": self.nonce,
            "time": self.time,
        }


@dataclass(frozen=True)
class OwnerUnit:
    building: str
    number: str
    area_centi: int


def issue_challenge(
    session: Session,
    card_number: str,
    client_addr: str,
    *,
    platform: str,
    max_per_address: int = MAX_CHALLENGES_PER_ADDRESS,
    now: dt.datetime | None = None,
) -> Challenge:
    """A fresh challenge for the card, within the rate limits. One transaction."""
    now = (now or utcnow()).replace(microsecond=0)
    address = (client_addr or "unknown")[:_ADDRESS_LENGTH]
    begin_write(session)
    try:
        challenge = _issue_challenge(session, card_number, address, platform, max_per_address, now)
    except BaseException:
        session.rollback()
        raise
    session.commit()
    return challenge


def _issue_challenge(
    session: Session,
    card_number: str,
    address: str,
    platform: str,
    max_per_address: int,
    now: dt.datetime,
) -> Challenge:
    # Opportunistic clean-up: challenges older than the rate window count for nothing.
    session.execute(delete(LoginChallenge).where(LoginChallenge.created_at <= now - RATE_WINDOW))
    card = card_by_number(session, card_number)
    if card is None:
        raise LoginRefused("unknown_card")
    # Serialise challenges of one card (PostgreSQL row lock; SQLite has one writer anyway).
    session.execute(select(Card.id).where(Card.id == card.id).with_for_update())
    since = now - RATE_WINDOW
    recent = (
        select(func.count()).select_from(LoginChallenge).where(LoginChallenge.created_at > since)
    )
    if (session.scalar(recent.where(LoginChallenge.card_id == card.id)) or 0) >= (
        MAX_CHALLENGES_PER_CARD
    ):
        raise LoginRefused("rate_limited", "too many challenges for this card")
    if (session.scalar(recent.where(LoginChallenge.client_addr == address)) or 0) >= (
        max_per_address
    ):
        raise LoginRefused("rate_limited", "too many challenges from this address")
    nonce = secrets.token_hex(NONCE_BYTES)
    expires_at = now + CHALLENGE_LIFETIME
    session.add(
        LoginChallenge(
            card_id=card.id,
            nonce=nonce,
            client_addr=address,
            created_at=now,
            expires_at=expires_at,
        )
    )
    return Challenge(platform, card.number, nonce, format_time(now), expires_at)


def _parse(data: bytes, platform: str) -> dict[str, str]:
    """The login statement's members, checked for form (not yet for authenticity)."""
    if len(data) > MAX_STATEMENT_SIZE:
        raise LoginRefused("malformed", "statement too large")
    try:
        statement = parse_canonical(data)
    except CryptoError as exc:
        raise LoginRefused("malformed", str(exc)) from exc
    if statement.keys() != LOGIN_MEMBERS or not all(
        isinstance(value, str) for value in statement.values()
    ):
        raise LoginRefused("malformed", f"members must be exactly {sorted(LOGIN_MEMBERS)}")
    if statement["type"] != LOGIN_TYPE or statement["platform"] != platform:
        raise LoginRefused("malformed", "wrong type or platform")
    if not _NONCE.fullmatch(statement["nonce"]):  # type: ignore[arg-type]
        raise LoginRefused("malformed", "nonce must be 32 lowercase hex digits")
    return statement  # type: ignore[return-value]


def _use_challenge(session: Session, statement: dict[str, str], now: dt.datetime) -> Card:
    """Mark the statement's challenge used (once, ever) and return its card."""
    challenge = session.scalar(
        select(LoginChallenge).where(LoginChallenge.nonce == statement["nonce"])
    )
    if challenge is None:
        raise LoginRefused("unknown_challenge")
    if challenge.used_at is not None:
        raise LoginRefused("used_challenge")
    used = session.execute(
        update(LoginChallenge)
        .where(LoginChallenge.id == challenge.id, LoginChallenge.used_at.is_(None))
        .values(used_at=now),
        execution_options={"synchronize_session": False},
    )
    if used.rowcount == 0:  # type: ignore[attr-defined]
        raise LoginRefused("used_challenge")  # answered in parallel
    if challenge.expires_at <= now:
        raise LoginRefused("expired_challenge")
    card = session.get(Card, challenge.card_id)
    assert card is not None
    if statement["card_number"] != card.number:
        raise LoginRefused("malformed", "the challenge was issued for another card")
    if statement["time"] != format_time(challenge.created_at):
        raise LoginRefused("malformed", "time differs from the challenge's")
    return card


def _check_signature(
    session: Session, card: Card, data: bytes, signature: bytes, now: dt.datetime
) -> None:
    """The statement must be signed by the key of the card's certificate, valid now."""
    issuer = session.get(IssuerKey, card.issuer_key_id)
    assert issuer is not None
    try:
        certificate = verify_certificate(
            PublicKey.from_hex(issuer.public_key),
            card.certificate,
            card.certificate_signature,
            at=now,
        )
    except (CertificateExpired, CertificateNotYetValid) as exc:
        raise LoginRefused("certificate", str(exc)) from exc
    if certificate.card_number != card.number or certificate.card_key.hex() != card.public_key:
        raise LoginRefused("certificate", "certificate does not match the card")
    try:
        verify_statement(certificate.card_key, data, signature, expected_type=LOGIN_TYPE)
    except CryptoError as exc:
        raise LoginRefused("bad_signature", str(exc)) from exc


def log_in_with_card(
    session: Session,
    statement: bytes,
    signature: bytes,
    pin: str,
    *,
    platform: str,
    now: dt.datetime | None = None,
) -> Card:
    """Check a signed login statement and the PIN; return the card on success.

    Raises `LoginRefused`. Commits the challenge's use and the PIN counter in every case;
    nothing else changes.
    """
    now = now or utcnow()
    fields = _parse(statement, platform)
    begin_write(session)
    try:
        card = _use_challenge(session, fields, now)
        session.commit()  # one attempt per challenge, whatever follows
        _check_card(session, card, statement, signature, pin, now)
    except LoginRefused:
        session.commit()  # keeps the PIN counter
        raise
    except BaseException:
        session.rollback()
        raise
    session.commit()
    return card


def _check_card(
    session: Session, card: Card, statement: bytes, signature: bytes, pin: str, now: dt.datetime
) -> None:
    _check_signature(session, card, statement, signature, now)
    if card.status is not CardStatus.active:
        raise LoginRefused("revoked")
    if card.locked_at is not None:
        raise LoginRefused("locked")
    result = check_pin(session, card, pin, now=now)
    if result.ok:
        return
    if result.reason == "wrong":
        raise LoginRefused("wrong_pin", remaining=result.remaining)
    raise LoginRefused("locked" if result.reason == "locked" else "revoked")


def owner_units(session: Session, card: Card) -> tuple[RollVersion | None, list[OwnerUnit]]:
    """The card holder's units in the area's current roll, in house-number order."""
    area = session.get(PropertyArea, card.property_area_id)
    version = None if area is None else current_version(session, area)
    if version is None:
        return None, []
    rows = session.execute(
        select(Building.name, Unit.number, RollEntry.area_centi)
        .select_from(RollEntry)
        .join(Unit, RollEntry.unit_id == Unit.id)
        .join(Building, Unit.building_id == Building.id)
        .where(RollEntry.roll_version_id == version.id, RollEntry.holder_id == card.holder_id)
    )
    units = [OwnerUnit(building, number, area) for building, number, area in rows]
    units.sort(key=lambda unit: (natural_key(unit.building), natural_key(unit.number)))
    return version, units
