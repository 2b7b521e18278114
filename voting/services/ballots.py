"""Signed ballots: the challenge, the cast, receipts, and what the tally counts.

    ballot_challenge(session, card, meeting, platform=, key=, now=) -> BallotChallenge
    cast_ballot(session, statement, signature, card_id=, platform=, key=, now=) -> Receipt
    receipt_by_hash(session, ballot_hash) -> Receipt
    counted_ballots(session, motion) -> [(holder ref, Choice)]

Nonces cost no write: a nonce is 8 random bytes and the first 8 bytes of an HMAC, under a
server key, of those bytes with the card, meeting, motion and issue time. The server
recognises its own nonces by the MAC, and the unique index on `ballots.nonce` makes each
one usable once; so the only write of a ballot is the ballot itself, its counted pointer
and its log entry, all in one transaction.

Checks run cheapest and least revealing first (docs/PROTOCOL.md section 6.1): shape,
platform, credential = the session's card, signature, nonce, meeting and window, roll,
card state, eligibility and scope, proxy, choice, then the one-counted-ballot rule. Each
refusal is a `BallotRefused` with an HTTP-like status and a message; nothing is stored.

Concurrency: on SQLite the transaction holds the one write lock. On PostgreSQL the card,
meeting and proxy rows are read afresh and share-locked (a lock, revocation, close or
withdrawal waits for ballots in flight, and no ballot commits after it), the log head row
serialises the area's appends, and the primary key of `counted_ballots` decides races
between ballots of one voter: the loser either replaces the pointer (where changes are
allowed; in log order) or is refused and rolled back.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from crypto.canonical import JSONValue, parse_canonical
from crypto.certificates import CERTIFICATE_TYPE, Certificate, verify_certificate
from crypto.encoding import b64_encode
from crypto.errors import CertificateExpired, CertificateNotYetValid, CryptoError
from crypto.keys import SIGNATURE_SIZE, PublicKey
from crypto.statements import MAX_STATEMENT_SIZE, format_time, parse_time, verify_statement
from voting.db import begin_write
from voting.domain.ballot import (
    BALLOT_TYPE,
    BallotError,
    BallotStatement,
    choice_json,
    parse_ballot,
    parse_choice,
)
from voting.domain.procedure import MeetingState
from voting.domain.tally import Choice
from voting.models import (
    Ballot,
    Building,
    Card,
    CardStatus,
    Channel,
    CountedBallot,
    Holder,
    IssuerKey,
    Meeting,
    Motion,
    PropertyArea,
    Proxy,
    RollEntry,
    Unit,
    utcnow,
)
from voting.services import ServiceError, log

__all__ = [
    "NONCE_LIFETIME",
    "BallotChallenge",
    "BallotRefused",
    "Receipt",
    "ballot_challenge",
    "ballot_nonce_key",
    "cast_ballot",
    "check_card_signature",
    "counted_ballots",
    "eligible_motions",
    "is_mac_nonce",
    "issue_mac_nonce",
    "receipt_by_hash",
    "voter_buildings",
]

#: Per-process caches of rows that never change once written (see where they are used).
_CACHE_LIMIT = 200_000
# Keys start with the database's URL: one process may meet several databases (tests do).
_BUILDINGS: dict[tuple[str, int, int, bool], frozenset[str]] = {}
_ISSUERS: dict[tuple[str, int], str] = {}
_AREAS: dict[tuple[str, int], PropertyArea] = {}


def _database(session: Session) -> str:
    return str(session.get_bind().url)


#: How long a ballot nonce may be answered (also bounded by the voting window).
NONCE_LIFETIME = dt.timedelta(minutes=15)
_NONCE_LABEL = b"ballot-nonce/v1"


class BallotRefused(ServiceError):
    """A refused ballot: `status` is the HTTP status the web answers with."""

    def __init__(self, status: int, message: str, reason: str) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class BallotChallenge:
    """What a voter's client needs to build its ballot statements for a meeting."""

    platform: str
    area: str
    meeting: int
    roll: str
    voter: str
    credential: str
    time: str
    expires_at: dt.datetime
    nonces: dict[int, str]  # motion id -> nonce

    def statement(self, motion_id: int, choice: JSONValue) -> dict[str, JSONValue]:
        """The ballot statement for one motion (before signing)."""
        return {
            "type": BALLOT_TYPE,
            "platform": self.platform,
            "area": self.area,
            "meeting": self.meeting,
            "motion": motion_id,
            "roll": self.roll,
            "voter": self.voter,
            "credential": self.credential,
            "choice": choice,
            "nonce": self.nonces[motion_id],
            "time": self.time,
        }


@dataclass(frozen=True)
class Receipt:
    ballot_hash: str
    area: str
    meeting: int
    motion: int
    cast_at: dt.datetime
    log_index: int
    counted: bool  # this ballot is the one counted for its voter and motion now
    by_proxy: bool


def ballot_nonce_key(secret: str | bytes) -> bytes:
    """The nonce MAC key, derived from the app's secret key."""
    raw = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(raw, _NONCE_LABEL, hashlib.sha256).digest()


def _nonce_mac(key: bytes, label: bytes, head: bytes, parts: tuple[object, ...]) -> bytes:
    message = b"\n".join([label, head, *(str(part).encode() for part in parts)])
    return hmac.new(key, message, hashlib.sha256).digest()[:8]


def issue_mac_nonce(key: bytes, label: bytes, *parts: object) -> str:
    """A fresh nonce bound to `parts` (card, meeting, ...): 8 random bytes, then the first 8
    bytes of HMAC-SHA-256(key, label, the random bytes and the parts, joined by newlines)."""
    head = secrets.token_bytes(8)
    return (head + _nonce_mac(key, label, head, parts)).hex()


def is_mac_nonce(key: bytes, nonce: str, label: bytes, *parts: object) -> bool:
    """Whether this server issued `nonce` for exactly these parts (see `issue_mac_nonce`)."""
    raw = bytes.fromhex(nonce)
    return hmac.compare_digest(raw[8:], _nonce_mac(key, label, raw[:8], parts))


def _new_nonce(key: bytes, card: str, meeting: int, motion: int, time: str) -> str:
    return issue_mac_nonce(key, _NONCE_LABEL, card, meeting, motion, time)


def _nonce_is_ours(key: bytes, nonce: str, card: str, meeting: int, motion: int, time: str) -> bool:
    return is_mac_nonce(key, nonce, _NONCE_LABEL, card, meeting, motion, time)


def _certificate_fingerprint(card: Card) -> str:
    return hashlib.sha256(card.certificate).hexdigest()


def voter_buildings(session: Session, meeting: Meeting, holder_id: int) -> set[str]:
    """Buildings where the holder has a unit that counts in the meeting's roll snapshot (a
    roll version never changes, so the answer is kept per process)."""
    if meeting.roll_version_id is None:
        return set()
    parking = meeting.rules_parking_counts is not False
    cache_key = (_database(session), meeting.roll_version_id, holder_id, parking)
    cached = _BUILDINGS.get(cache_key)
    if cached is not None:
        return set(cached)
    if len(_BUILDINGS) >= _CACHE_LIMIT:
        _BUILDINGS.clear()
    found = frozenset(
        session.scalars(
            select(Building.name)
            .select_from(RollEntry)
            .join(Unit, RollEntry.unit_id == Unit.id)
            .join(Building, Unit.building_id == Building.id)
            .where(
                RollEntry.roll_version_id == meeting.roll_version_id,
                RollEntry.holder_id == holder_id,
                # Where parking does not count, a parking space gives no vote.
                True if parking else RollEntry.is_parking.is_(False),
            )
            .distinct()
        )
    )
    _BUILDINGS[cache_key] = found
    return set(found)


def _in_scope(motion: Motion, buildings: set[str]) -> bool:
    scope = motion.scope
    return bool(buildings) and (scope is None or not scope.isdisjoint(buildings))


def eligible_motions(session: Session, meeting: Meeting, holder_id: int) -> list[Motion]:
    """The meeting's motions the holder may vote on, in order."""
    buildings = voter_buildings(session, meeting, holder_id)
    return [motion for motion in meeting.motions if _in_scope(motion, buildings)]


def ballot_challenge(
    session: Session,
    card: Card,
    meeting: Meeting,
    *,
    voter: Holder | None = None,
    platform: str,
    key: bytes,
    now: dt.datetime | None = None,
) -> BallotChallenge:
    """Nonces for every motion the voter (the card's holder, or `voter` for a proxy) may vote
    on. Writes nothing."""
    now = (now or utcnow()).replace(microsecond=0)
    if meeting.state is not MeetingState.open or meeting.roll_sha256 is None:
        raise BallotRefused(409, "voting is not open for this meeting", "not_open")
    assert meeting.window_closes_at is not None
    if now >= meeting.window_closes_at:
        raise BallotRefused(409, "the voting window has ended", "closed")
    holder = voter or card.holder
    area = session.get(PropertyArea, meeting.property_area_id)
    assert area is not None
    time = format_time(now)
    motions = eligible_motions(session, meeting, holder.id)
    return BallotChallenge(
        platform=platform,
        area=area.code,
        meeting=meeting.id,
        roll=meeting.roll_sha256,
        voter=holder.ref,
        credential=_certificate_fingerprint(card),
        time=time,
        expires_at=min(now + NONCE_LIFETIME, meeting.window_closes_at),
        nonces={m.id: _new_nonce(key, card.number, meeting.id, m.id, time) for m in motions},
    )


def _parse(data: bytes) -> tuple[BallotStatement, dict[str, JSONValue]]:
    if not isinstance(data, bytes) or not data or len(data) > MAX_STATEMENT_SIZE:
        raise BallotRefused(400, "the statement is empty or too large", "malformed")
    try:
        raw = parse_canonical(data)
        return parse_ballot(raw), raw
    except (CryptoError, BallotError) as exc:
        raise BallotRefused(400, f"malformed ballot: {exc}", "malformed") from exc


@functools.lru_cache(maxsize=4096)
def _issuer_key(issuer_public_hex: str) -> PublicKey:
    return PublicKey.from_hex(issuer_public_hex)


@functools.lru_cache(maxsize=65536)
def _certificate(issuer_public_hex: str, data: bytes, signature: bytes) -> Certificate:
    """A certificate verified once per process: its bytes and signature never change, so
    only its validity at each ballot's time is checked again."""
    issuer = _issuer_key(issuer_public_hex)
    statement = verify_statement(issuer, data, signature, expected_type=CERTIFICATE_TYPE)
    return verify_certificate(issuer, data, signature, at=parse_time(statement["not_before"]))


def _issuer_public_hex(session: Session, issuer_key_id: int) -> str:
    cache_key = (_database(session), issuer_key_id)
    cached = _ISSUERS.get(cache_key)
    if cached is None:
        issuer = session.get(IssuerKey, issuer_key_id)
        assert issuer is not None
        cached = _ISSUERS[cache_key] = issuer.public_key
    return cached


def check_card_signature(
    session: Session,
    card: Card,
    data: bytes,
    signature: bytes,
    at: dt.datetime,
    *,
    expected_type: str,
    refused: Callable[[int, str, str], ServiceError],
) -> None:
    """The statement is of `expected_type` and signed by the card's key, under a certificate
    that is the card's and valid at `at`; else raise `refused(status, message, reason)`.
    Shared by ballots and proxy authorisations."""
    try:
        certificate = _certificate(
            _issuer_public_hex(session, card.issuer_key_id),
            card.certificate,
            card.certificate_signature,
        )
        certificate.check_valid_at(at)
    except (CertificateExpired, CertificateNotYetValid) as exc:
        raise refused(403, f"the card's certificate is not valid: {exc}", "certificate") from exc
    # What an offline verifier reads from the certificate must be what the server checks.
    if (
        certificate.card_number != card.number
        or certificate.card_key.hex() != card.public_key
        or certificate.holder_id != card.holder.ref
    ):
        raise refused(403, "the card's certificate does not match the card", "certificate")
    try:
        verify_statement(certificate.card_key, data, signature, expected_type=expected_type)
    except CryptoError as exc:
        raise refused(401, f"the signature does not verify: {exc}", "bad_signature") from exc


def _load_card(session: Session, card_id: int) -> Card | None:
    """The card (with its holder) as it is now, share-locked on PostgreSQL: never a copy the
    session loaded earlier (the request's login check), and a lock or revocation waits for
    this ballot."""
    return session.scalar(
        select(Card)
        .options(joinedload(Card.holder))
        .where(Card.id == card_id)
        .with_for_update(read=True, of=Card)
        .execution_options(populate_existing=True)
    )


def _area(session: Session, area_id: int) -> PropertyArea:
    """The area row; its id and code never change, so the row is kept per process (as a
    detached copy, read-only)."""
    cache_key = (_database(session), area_id)
    cached = _AREAS.get(cache_key)
    if cached is None:
        found = session.get(PropertyArea, area_id)
        assert found is not None
        cached = _AREAS[cache_key] = PropertyArea(id=found.id, code=found.code, name=found.name)
    return cached


def _load_open_meeting(session: Session, statement: BallotStatement) -> tuple[Meeting, Motion]:
    meeting = session.scalar(
        select(Meeting)
        .where(Meeting.id == statement.meeting)
        .with_for_update(read=True)
        .execution_options(populate_existing=True)
    )
    motion = session.get(Motion, statement.motion)
    if meeting is None or motion is None or motion.meeting_id != meeting.id:
        raise BallotRefused(404, "no such meeting and motion", "unknown_motion")
    return meeting, motion


def _check_window(meeting: Meeting, statement: BallotStatement, now: dt.datetime) -> None:
    if meeting.state is not MeetingState.open:
        raise BallotRefused(409, f"the meeting is {meeting.state.value}, not open", "not_open")
    assert meeting.window_opens_at is not None and meeting.window_closes_at is not None
    if now >= meeting.window_closes_at:
        raise BallotRefused(409, "the voting window has ended", "closed")
    if statement.time > now:
        raise BallotRefused(400, "the ballot's time lies in the future", "malformed")
    if now - statement.time > NONCE_LIFETIME or statement.time < meeting.window_opens_at:
        raise BallotRefused(410, "the nonce has expired; ask for a new one", "expired")


def _voter_and_proxy(
    session: Session, card: Card, meeting: Meeting, statement: BallotStatement
) -> tuple[Holder, Proxy | None]:
    """The holder whose vote this is, and the authorisation a proxy ballot names."""
    if statement.proxy is None:
        if statement.voter != card.holder.ref:
            raise BallotRefused(403, "the ballot names another voter than the card's", "voter")
        return card.holder, None
    proxy = session.scalar(
        select(Proxy)
        .where(Proxy.statement_hash == statement.proxy)
        .with_for_update(read=True)
        .execution_options(populate_existing=True)
    )
    if (
        proxy is None
        or proxy.meeting_id != meeting.id
        or proxy.withdrawn_at is not None
        or proxy.proxy_holder_id != card.holder_id
        or proxy.owner.ref != statement.voter
    ):
        raise BallotRefused(
            403, "no authorisation in force lets this card vote for that owner", "proxy"
        )
    return proxy.owner, proxy


def _check_instruction(proxy: Proxy | None, motion: Motion, choice_text: str) -> None:
    if proxy is None or proxy.instructions is None:
        return
    instructions: dict[str, Any] = json.loads(proxy.instructions)
    wanted = instructions.get(str(motion.id))
    if wanted is not None and choice_json_of(wanted) != choice_text:
        raise BallotRefused(
            403, "the owner instructed the proxy to vote otherwise on this motion", "instruction"
        )


def choice_json_of(value: Any) -> str:
    """Canonical JSON text of a choice as stored (a string or a list of candidates)."""
    return choice_json(frozenset(value) if isinstance(value, list) else value)


def _check_choice(motion: Motion, value: JSONValue) -> Choice:
    try:
        return parse_choice(
            motion.kind, [option.label for option in motion.options], motion.seats, value
        )
    except BallotError as exc:
        raise BallotRefused(400, str(exc), "choice") from exc


def _insert_counted(session: Session, row: dict[str, Any]) -> bool:
    """INSERT … ON CONFLICT DO NOTHING; True if this ballot is now the counted one."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(CountedBallot)
        .values(**row)
        .on_conflict_do_nothing(index_elements=["motion_id", "holder_id"])
        .returning(CountedBallot.ballot_id)
    )
    return session.execute(statement).first() is not None


def _count(
    session: Session, meeting: Meeting, ballot: Ballot, in_person: bool, now: dt.datetime
) -> None:
    """Make `ballot` the counted one, or refuse under the one-counted-ballot rule."""
    row = {
        "motion_id": ballot.motion_id,
        "holder_id": ballot.holder_id,
        "ballot_id": ballot.id,
        "in_person": in_person,
        "updated_at": now,
    }
    if _insert_counted(session, row):
        return
    current = session.scalar(
        select(CountedBallot)
        .where(
            CountedBallot.motion_id == ballot.motion_id,
            CountedBallot.holder_id == ballot.holder_id,
        )
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert current is not None
    if current.in_person and not in_person:
        raise BallotRefused(409, "the owner has voted in person on this motion", "owner_voted")
    overrides_proxy = in_person and not current.in_person
    if not overrides_proxy and not meeting.rules_allow_vote_change:
        raise BallotRefused(409, "a ballot has already been cast on this motion", "already_voted")
    current.ballot_id = ballot.id
    current.in_person = in_person
    current.updated_at = now


def cast_ballot(
    session: Session,
    statement: bytes,
    signature: bytes,
    *,
    card_id: int,
    platform: str,
    key: bytes,
    channel: Channel = Channel.web,
    now: dt.datetime | None = None,
) -> Receipt:
    """Check and store a signed ballot from the card logged in as `card_id`. One
    transaction; raises `BallotRefused` and stores nothing when any check fails."""
    now = now or utcnow()
    parsed, raw = _parse(statement)
    if not isinstance(signature, bytes) or len(signature) != SIGNATURE_SIZE:
        raise BallotRefused(400, f"a signature is {SIGNATURE_SIZE} bytes", "malformed")
    if parsed.platform != platform:
        raise BallotRefused(400, "the ballot is for another platform", "platform")
    begin_write(session)
    try:
        receipt = _cast(session, statement, signature, parsed, raw, card_id, key, channel, now)
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise BallotRefused(409, "this nonce has already been used", "replayed") from exc
    except BaseException:
        session.rollback()
        raise
    return receipt


def _cast(
    session: Session,
    data: bytes,
    signature: bytes,
    statement: BallotStatement,
    raw: dict[str, JSONValue],
    card_id: int,
    key: bytes,
    channel: Channel,
    now: dt.datetime,
) -> Receipt:
    card = _load_card(session, card_id)
    if card is None:
        raise BallotRefused(403, "no card is logged in", "card")
    if statement.credential != _certificate_fingerprint(card):
        raise BallotRefused(403, "the ballot names another card's credential", "credential")
    check_card_signature(
        session, card, data, signature, now, expected_type=BALLOT_TYPE, refused=BallotRefused
    )
    if not _nonce_is_ours(
        key, statement.nonce, card.number, statement.meeting, statement.motion, statement.time_text
    ):
        raise BallotRefused(400, "the nonce was not issued for this ballot", "unknown_nonce")
    if session.scalar(select(Ballot.id).where(Ballot.nonce == statement.nonce)) is not None:
        raise BallotRefused(409, "this nonce has already been used", "replayed")
    meeting, motion = _load_open_meeting(session, statement)
    area = _area(session, meeting.property_area_id)
    if statement.area != area.code or card.property_area_id != area.id:
        raise BallotRefused(400, "the ballot is for another property area", "area")
    _check_window(meeting, statement, now)
    if statement.roll != meeting.roll_sha256:
        raise BallotRefused(400, "the ballot names another owner roll", "roll")
    if card.status is not CardStatus.active:
        raise BallotRefused(403, "the card has been revoked", "revoked")
    if card.locked_at is not None:
        raise BallotRefused(423, "the card is locked", "locked")
    voter, proxy = _voter_and_proxy(session, card, meeting, statement)
    if not _in_scope(motion, voter_buildings(session, meeting, voter.id)):
        raise BallotRefused(403, "the voter has no unit in this motion's scope", "scope")
    choice = _check_choice(motion, raw["choice"])
    text = choice_json(choice)
    _check_instruction(proxy, motion, text)
    ballot_hash = hashlib.sha256(data).hexdigest()
    entry = log.append(
        session,
        area,
        "ballot",
        {
            "meeting": meeting.id,
            "motion": motion.id,
            "voter": voter.ref,
            "ballot": ballot_hash,
            "signature": b64_encode(signature),
            "proxy": statement.proxy,
        },
        at=now,
    )
    ballot = Ballot(
        property_area_id=area.id,
        meeting_id=meeting.id,
        motion_id=motion.id,
        holder_id=voter.id,
        card_id=card.id,
        proxy_id=None if proxy is None else proxy.id,
        channel=channel,
        choice=text,
        statement=data,
        signature=signature,
        ballot_hash=ballot_hash,
        nonce=statement.nonce,
        cast_at=now,
        log_seq=entry.seq,
    )
    session.add(ballot)
    session.flush()
    _count(session, meeting, ballot, proxy is None, now)
    return Receipt(
        ballot_hash=ballot_hash,
        area=area.code,
        meeting=meeting.id,
        motion=motion.id,
        cast_at=now,
        log_index=entry.seq,
        counted=True,
        by_proxy=proxy is not None,
    )


def receipt_by_hash(session: Session, ballot_hash: str) -> Receipt | None:
    """The receipt of a stored ballot, whether it still counts, or None."""
    ballot = session.scalar(select(Ballot).where(Ballot.ballot_hash == ballot_hash))
    if ballot is None:
        return None
    area = session.get(PropertyArea, ballot.property_area_id)
    assert area is not None
    counted = session.scalar(
        select(func.count()).select_from(CountedBallot).where(CountedBallot.ballot_id == ballot.id)
    )
    return Receipt(
        ballot_hash=ballot.ballot_hash,
        area=area.code,
        meeting=ballot.meeting_id,
        motion=ballot.motion_id,
        cast_at=ballot.cast_at,
        log_index=ballot.log_seq,
        counted=bool(counted),
        by_proxy=ballot.proxy_id is not None,
    )


def counted_ballots(session: Session, motion: Motion) -> list[tuple[str, Choice]]:
    """The counted electronic ballots of a motion: (holder ref, choice), by holder ref."""
    rows = session.execute(
        select(Holder.ref, Ballot.choice)
        .select_from(CountedBallot)
        .join(Ballot, CountedBallot.ballot_id == Ballot.id)
        .join(Holder, CountedBallot.holder_id == Holder.id)
        .where(CountedBallot.motion_id == motion.id)
        .order_by(Holder.ref)
    )
    result: list[tuple[str, Choice]] = []
    for ref, text in rows:
        value = json.loads(text)
        result.append((ref, frozenset(value) if isinstance(value, list) else value))
    return result
