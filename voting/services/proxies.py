"""Proxy authorisations (委托书, Property Management Regulation art. 12): the challenge, the
owner's signed authorisation, its withdrawal, named proxies who are not owners, and the
lists that staff pages and ballots need.

    proxy_challenge(session, card, meeting, platform=, key=, now=) -> ProxyChallenge
    authorise_proxy(session, statement, signature, card_id=, platform=, key=, now=)
        -> Authorisation
    withdraw_proxy(session, meeting_id, card_id=, now=) -> Authorisation
    register_named_person(session, area, issuer, name=, id_number=, id_hash_key=, base_url=)
        -> IssuedCard
    proxies_of_meeting(session, meeting) -> [ProxyListing]

The authorisation is a statement of type "proxy" signed by the owner's card
(docs/PROTOCOL.md section 6.6). Its nonce is stateless like a ballot's: 8 random bytes and
the first 8 bytes of an HMAC of them with the card number, the meeting, the label "proxy"
and the issue time; the unique `proxies.statement_hash` makes each signed statement usable
once, so the only writes are the authorisation and its log entry.

Proxies are authorised only while the meeting is open and its window has not ended: the
owner's eligibility is checked against the roll snapshot taken when voting opens, which does
not exist before. A proxy ballot names the authorisation's statement hash (section 6.1); the
ballot path (`voting.services.ballots`) checks that the authorisation is in force, held by
the signing card's holder, and followed (instructions), and lets the owner's own ballot
override the proxy's.

Concurrency: authorising and withdrawing lock the meeting row (SELECT … FOR UPDATE on
PostgreSQL; SQLite has one writer), so the cap per proxy holder and the "one authorisation
in force per owner" rule are checked against every committed authorisation, and a
withdrawal cannot slip between a proxy ballot's check and its commit (ballots share-lock the
same row).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crypto.canonical import JSONValue, parse_canonical
from crypto.encoding import b64_encode
from crypto.errors import CryptoError
from crypto.keys import SIGNATURE_SIZE, CardKey
from crypto.statements import MAX_STATEMENT_SIZE, format_time
from voting.domain.procedure import MeetingState
from voting.domain.proxy import (
    PROXY_TYPE,
    MotionChoices,
    ProxyError,
    ProxyStatement,
    check_cap,
    instructions_json,
    parse_instructions,
    parse_proxy,
)
from voting.domain.roll import check_id_number, id_hash, natural_key, normalise_id_number
from voting.models import (
    Ballot,
    Building,
    Card,
    CardStatus,
    Holder,
    HolderKind,
    Meeting,
    PropertyArea,
    Proxy,
    RollEntry,
    Unit,
    utcnow,
)
from voting.services import ServiceError, log, use_case
from voting.services.ballots import (
    NONCE_LIFETIME,
    check_card_signature,
    eligible_motions,
    is_mac_nonce,
    issue_mac_nonce,
    voter_buildings,
)
from voting.services.cards import IssuedCard, active_card_of_holder, issue_card_outside_roll

__all__ = [
    "NAMED_PREFIX",
    "Authorisation",
    "ProxyChallenge",
    "ProxyListing",
    "ProxyRefused",
    "active_proxy",
    "authorisation_for",
    "authorisation_of",
    "authorise_proxy",
    "holder_by_house",
    "houses_in_meeting",
    "instruction_count",
    "instructions_of",
    "meeting_buildings",
    "named_people",
    "named_person",
    "proxies_held",
    "proxies_of_meeting",
    "proxy_challenge",
    "proxy_nonce",
    "register_named_person",
    "withdraw_proxy",
]

#: Holder refs of named proxies who are not owners: "PX-1", "PX-2", …
NAMED_PREFIX = "PX-"
_NAMED_REF = re.compile(r"PX-([1-9][0-9]{0,15})")
_NONCE_LABEL = b"proxy-nonce/v1"
MAX_NAME_LENGTH = 100
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class ProxyRefused(ServiceError):
    """A refused authorisation or withdrawal: `status` is the HTTP status the web answers
    with, `reason` a stable code; nothing was stored."""

    def __init__(self, status: int, message: str, reason: str, detail: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.detail = detail  # e.g. the ref of an already registered person


@dataclass(frozen=True)
class ProxyChallenge:
    """What the owner's client needs to build the proxy statement for a meeting."""

    platform: str
    area: str
    meeting: int
    roll: str
    owner: str
    credential: str
    nonce: str
    time: str
    expires_at: dt.datetime

    def statement(
        self, proxy: str, instructions: Mapping[int, JSONValue] | None = None
    ) -> dict[str, JSONValue]:
        """The proxy statement (before signing) naming `proxy` (a holder ref)."""
        return {
            "type": PROXY_TYPE,
            "platform": self.platform,
            "area": self.area,
            "meeting": self.meeting,
            "roll": self.roll,
            "owner": self.owner,
            "credential": self.credential,
            "proxy": proxy,
            "instructions": {str(k): v for k, v in (instructions or {}).items()},
            "nonce": self.nonce,
            "time": self.time,
        }


@dataclass(frozen=True)
class Authorisation:
    """A stored authorisation, as the owner and the API see it."""

    statement_hash: str
    area: str
    meeting: int
    owner: str
    proxy: str
    instructions: int  # how many motions carry an instruction
    created_at: dt.datetime
    log_index: int
    withdrawn_at: dt.datetime | None


@dataclass(frozen=True)
class ProxyListing:
    """One line of the staff list: house numbers, never names or ID numbers."""

    statement_hash: str
    owner_ref: str
    owner_houses: tuple[str, ...]
    proxy_ref: str
    proxy_houses: tuple[str, ...]  # empty for a named person who is not an owner
    named: bool
    created_at: dt.datetime
    instructions: int
    withdrawn_at: dt.datetime | None
    ballots: int  # ballots the proxy cast under this authorisation


# --- nonces ------------------------------------------------------------------------------


def proxy_nonce(key: bytes, card: str, meeting: int, time: str) -> str:
    """A fresh nonce for the card's proxy statement in the meeting, issued at `time`."""
    return issue_mac_nonce(key, _NONCE_LABEL, card, meeting, "proxy", time)


def _nonce_is_ours(key: bytes, nonce: str, card: str, meeting: int, time: str) -> bool:
    return is_mac_nonce(key, nonce, _NONCE_LABEL, card, meeting, "proxy", time)


# --- shared checks -----------------------------------------------------------------------


def _fingerprint(card: Card) -> str:
    return hashlib.sha256(card.certificate).hexdigest()


def _area_of(session: Session, meeting: Meeting) -> PropertyArea:
    area = session.get(PropertyArea, meeting.property_area_id)
    assert area is not None
    return area


def _check_open(meeting: Meeting, now: dt.datetime) -> None:
    if meeting.state is not MeetingState.open or meeting.roll_sha256 is None:
        raise ProxyRefused(409, "proxies can be authorised only while voting is open", "not_open")
    assert meeting.window_closes_at is not None
    if now >= meeting.window_closes_at:
        raise ProxyRefused(409, "the voting window has ended", "closed")


def _check_eligible(session: Session, meeting: Meeting, holder: Holder) -> None:
    if not voter_buildings(session, meeting, holder.id):
        raise ProxyRefused(
            403, "the owner has no unit in this meeting's owner roll", "not_eligible"
        )


def active_proxy(session: Session, meeting_id: int, owner_holder_id: int) -> Proxy | None:
    """The owner's authorisation in force for the meeting, if any."""
    return session.scalar(
        select(Proxy).where(
            Proxy.meeting_id == meeting_id,
            Proxy.owner_holder_id == owner_holder_id,
            Proxy.withdrawn_at.is_(None),
        )
    )


def _load_card(session: Session, card_id: int) -> Card | None:
    """The card as it is now (never a copy loaded earlier in the request), share-locked on
    PostgreSQL so that a lock or revocation waits for this transaction."""
    return session.scalar(
        select(Card)
        .where(Card.id == card_id)
        .with_for_update(read=True)
        .execution_options(populate_existing=True)
    )


def _lock_meeting(session: Session, meeting_id: int) -> Meeting | None:
    return session.scalar(
        select(Meeting)
        .where(Meeting.id == meeting_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


def _authorisation(area: PropertyArea, proxy: Proxy) -> Authorisation:
    return Authorisation(
        statement_hash=proxy.statement_hash,
        area=area.code,
        meeting=proxy.meeting_id,
        owner=proxy.owner.ref,
        proxy=proxy.proxy_holder.ref,
        instructions=instruction_count(proxy),
        created_at=proxy.created_at,
        log_index=proxy.log_seq,
        withdrawn_at=proxy.withdrawn_at,
    )


def instructions_of(proxy: Proxy) -> dict[int, JSONValue]:
    """The owner's instructions: motion id -> choice as signed ("yes", ["A", "B"], …)."""
    if proxy.instructions is None:
        return {}
    value = parse_canonical(proxy.instructions.encode())
    return {int(key): choice for key, choice in value.items()}


def instruction_count(proxy: Proxy) -> int:
    """How many motions the owner gave the proxy an instruction for."""
    return len(instructions_of(proxy))


# --- the challenge -----------------------------------------------------------------------


def proxy_challenge(
    session: Session,
    card: Card,
    meeting: Meeting,
    *,
    platform: str,
    key: bytes,
    now: dt.datetime | None = None,
) -> ProxyChallenge:
    """A nonce for the card holder's proxy statement in the meeting. Writes nothing."""
    now = (now or utcnow()).replace(microsecond=0)
    _check_open(meeting, now)
    _check_eligible(session, meeting, card.holder)
    if active_proxy(session, meeting.id, card.holder_id) is not None:
        raise ProxyRefused(
            409, "an authorisation is already in force: withdraw it first", "already_authorised"
        )
    assert meeting.roll_sha256 is not None and meeting.window_closes_at is not None
    time = format_time(now)
    return ProxyChallenge(
        platform=platform,
        area=_area_of(session, meeting).code,
        meeting=meeting.id,
        roll=meeting.roll_sha256,
        owner=card.holder.ref,
        credential=_fingerprint(card),
        nonce=proxy_nonce(key, card.number, meeting.id, time),
        time=time,
        expires_at=min(now + NONCE_LIFETIME, meeting.window_closes_at),
    )


# --- authorising -------------------------------------------------------------------------


def _parse(data: bytes) -> ProxyStatement:
    if not isinstance(data, bytes) or not data or len(data) > MAX_STATEMENT_SIZE:
        raise ProxyRefused(400, "the statement is empty or too large", "malformed")
    try:
        return parse_proxy(parse_canonical(data))
    except (CryptoError, ProxyError) as exc:
        raise ProxyRefused(400, f"malformed proxy statement: {exc}", "malformed") from exc


def _check_time(meeting: Meeting, statement: ProxyStatement, now: dt.datetime) -> None:
    assert meeting.window_opens_at is not None
    if statement.time > now:
        raise ProxyRefused(400, "the statement's time lies in the future", "malformed")
    if now - statement.time > NONCE_LIFETIME or statement.time < meeting.window_opens_at:
        raise ProxyRefused(410, "the nonce has expired; ask for a new one", "expired")


def _motion_choices(session: Session, meeting: Meeting, owner: Holder) -> dict[int, MotionChoices]:
    return {
        motion.id: MotionChoices(
            motion.kind, tuple(option.label for option in motion.options), motion.seats
        )
        for motion in eligible_motions(session, meeting, owner.id)
    }


def authorise_proxy(
    session: Session,
    statement: bytes,
    signature: bytes,
    *,
    card_id: int,
    platform: str,
    key: bytes,
    now: dt.datetime | None = None,
) -> Authorisation:
    """Check and store the owner's signed authorisation from the card logged in as
    `card_id`. One transaction; raises `ProxyRefused` and stores nothing when a check
    fails."""
    now = now or utcnow()
    parsed = _parse(statement)
    if not isinstance(signature, bytes) or len(signature) != SIGNATURE_SIZE:
        raise ProxyRefused(400, f"a signature is {SIGNATURE_SIZE} bytes", "malformed")
    if parsed.platform != platform:
        raise ProxyRefused(400, "the statement is for another platform", "platform")
    try:
        return _authorise(session, statement, signature, parsed, card_id, key, now)
    except IntegrityError as exc:  # a parallel request won the unique index
        raise ProxyRefused(
            409, "an authorisation is already in force for this owner", "already_authorised"
        ) from exc


@use_case
def _authorise(
    session: Session,
    data: bytes,
    signature: bytes,
    statement: ProxyStatement,
    card_id: int,
    key: bytes,
    now: dt.datetime,
) -> Authorisation:
    card = _load_card(session, card_id)
    if card is None:
        raise ProxyRefused(403, "no card is logged in", "card")
    if statement.credential != _fingerprint(card):
        raise ProxyRefused(403, "the statement names another card's credential", "credential")
    check_card_signature(
        session, card, data, signature, now, expected_type=PROXY_TYPE, refused=ProxyRefused
    )
    if not _nonce_is_ours(
        key, statement.nonce, card.number, statement.meeting, statement.time_text
    ):
        raise ProxyRefused(400, "the nonce was not issued for this statement", "unknown_nonce")
    statement_hash = hashlib.sha256(data).hexdigest()
    if session.scalar(select(Proxy.id).where(Proxy.statement_hash == statement_hash)):
        raise ProxyRefused(409, "this authorisation has already been used", "replayed")
    meeting = _lock_meeting(session, statement.meeting)
    if meeting is None:
        raise ProxyRefused(404, "no such meeting", "unknown_meeting")
    area = _area_of(session, meeting)
    if statement.area != area.code or card.property_area_id != area.id:
        raise ProxyRefused(400, "the statement is for another property area", "area")
    _check_open(meeting, now)
    _check_time(meeting, statement, now)
    if statement.roll != meeting.roll_sha256:
        raise ProxyRefused(400, "the statement names another owner roll", "roll")
    if card.status is not CardStatus.active:
        raise ProxyRefused(403, "the card has been revoked", "revoked")
    if card.locked_at is not None:
        raise ProxyRefused(423, "the card is locked", "locked")
    owner = card.holder
    if statement.owner != owner.ref:
        raise ProxyRefused(403, "the statement names another owner than the card's", "owner")
    _check_eligible(session, meeting, owner)
    proxy_holder = session.scalar(
        select(Holder).where(Holder.property_area_id == area.id, Holder.ref == statement.proxy)
    )
    if proxy_holder is None:
        raise ProxyRefused(404, "the proxy is not known in this property area", "unknown_proxy")
    try:
        choices = parse_instructions(
            statement.instructions, _motion_choices(session, meeting, owner)
        )
    except ProxyError as exc:
        raise ProxyRefused(400, str(exc), "instruction") from exc
    if active_proxy(session, meeting.id, owner.id) is not None:
        raise ProxyRefused(
            409, "an authorisation is already in force: withdraw it first", "already_authorised"
        )
    held = session.scalar(
        select(func.count())
        .select_from(Proxy)
        .where(
            Proxy.meeting_id == meeting.id,
            Proxy.proxy_holder_id == proxy_holder.id,
            Proxy.withdrawn_at.is_(None),
        )
    )
    assert meeting.rules_proxy_cap is not None
    try:
        check_cap(held or 0, meeting.rules_proxy_cap)
    except ProxyError as exc:
        raise ProxyRefused(409, str(exc), "cap") from exc
    entry = log.append(
        session,
        area,
        "proxy",
        {
            "meeting": meeting.id,
            "owner": owner.ref,
            "proxy": proxy_holder.ref,
            "statement": statement_hash,
            "signature": b64_encode(signature),
        },
        at=now,
    )
    proxy = Proxy(
        property_area_id=area.id,
        meeting_id=meeting.id,
        owner_holder_id=owner.id,
        proxy_holder_id=proxy_holder.id,
        owner_card_id=card.id,
        statement=data,
        signature=signature,
        statement_hash=statement_hash,
        instructions=instructions_json(choices),
        created_at=now,
        log_seq=entry.seq,
    )
    session.add(proxy)
    session.flush()
    return _authorisation(area, proxy)


# --- withdrawing -------------------------------------------------------------------------


@use_case
def withdraw_proxy(
    session: Session, meeting_id: int, *, card_id: int, now: dt.datetime | None = None
) -> Authorisation:
    """Withdraw the card holder's authorisation in force for the meeting, as long as the
    proxy has not voted under it."""
    now = now or utcnow()
    meeting = _lock_meeting(session, meeting_id)
    card = _load_card(session, card_id)
    if card is None or card.status is not CardStatus.active:
        raise ProxyRefused(403, "no card is logged in", "card")
    if meeting is None or meeting.property_area_id != card.property_area_id:
        raise ProxyRefused(404, "no such meeting", "unknown_meeting")
    _check_open(meeting, now)
    proxy = active_proxy(session, meeting.id, card.holder_id)
    if proxy is None:
        raise ProxyRefused(404, "no authorisation is in force", "no_authorisation")
    voted = session.scalar(
        select(func.count()).select_from(Ballot).where(Ballot.proxy_id == proxy.id)
    )
    if voted:
        raise ProxyRefused(
            409, "the proxy has already voted under this authorisation", "proxy_voted"
        )
    proxy.withdrawn_at = now
    session.flush()
    area = _area_of(session, meeting)
    log.append(
        session,
        area,
        "proxy.withdraw",
        {
            "meeting": meeting.id,
            "owner": proxy.owner.ref,
            "proxy": proxy.proxy_holder.ref,
            "statement": proxy.statement_hash,
        },
        at=now,
    )
    return _authorisation(area, proxy)


# --- named proxies who are not owners ----------------------------------------------------


def _lock_area(session: Session, area: PropertyArea) -> None:
    session.execute(select(PropertyArea.id).where(PropertyArea.id == area.id).with_for_update())


def _next_named_ref(session: Session, area: PropertyArea) -> str:
    refs = session.scalars(
        select(Holder.ref).where(
            Holder.property_area_id == area.id, Holder.ref.like(f"{NAMED_PREFIX}%")
        )
    )
    numbers = [int(m.group(1)) for ref in refs if (m := _NAMED_REF.fullmatch(ref))]
    return f"{NAMED_PREFIX}{max(numbers, default=0) + 1}"


def _clean_name(name: str) -> str:
    text = " ".join((name or "").split())
    if not text or _CONTROL.search(text):
        raise ProxyRefused(400, "please give the person's name", "name")
    if len(text) > MAX_NAME_LENGTH:
        raise ProxyRefused(400, f"the name must be at most {MAX_NAME_LENGTH} characters", "name")
    return text


@use_case
def register_named_person(
    session: Session,
    area: PropertyArea,
    issuer: CardKey,
    *,
    name: str,
    id_number: str,
    id_hash_key: str,
    base_url: str,
    user_id: int | None = None,
    now: dt.datetime | None = None,
) -> IssuedCard:
    """Register a person who is not an owner as a possible proxy ("PX-<n>", no units) and
    issue them a printed card; the ID number is kept only as its keyed hash and last four
    characters, as for holders of the roll. The card prints the ref where an owner's card
    shows house numbers: owners name this person by it. A registered person whose card has
    been revoked (lost) gets a new card under the same ref, so their authorisations stay."""
    now = now or utcnow()
    clean = _clean_name(name)
    normalised = normalise_id_number(id_number or "")
    if not normalised or check_id_number(normalised) is not None:
        raise ProxyRefused(400, "the ID number is not valid", "id_number")
    hashed = id_hash(id_hash_key, normalised)
    _lock_area(session, area)
    existing = session.scalar(
        select(Holder).where(Holder.property_area_id == area.id, Holder.id_hash == hashed)
    )
    if existing is not None and (
        not _NAMED_REF.fullmatch(existing.ref)
        or active_card_of_holder(session, existing.id) is not None
    ):
        raise ProxyRefused(
            409,
            f"this person is already registered in the area as {existing.ref}",
            "registered",
            existing.ref,
        )
    if existing is not None:  # a named person whose card was revoked: a new card
        holder = existing
        holder.name = clean
    else:
        holder = Holder(
            property_area_id=area.id,
            ref=_next_named_ref(session, area),
            kind=HolderKind.person,
            name=clean,
            id_hash=hashed,
            id_last4=normalised[-4:],
            created_at=now,
        )
        session.add(holder)
    session.flush()
    log.append(session, area, "proxy.person", {"holder": holder.ref, "by": user_id}, at=now)
    return issue_card_outside_roll(
        session,
        area,
        issuer,
        holder,
        base_url=base_url,
        houses=(holder.ref,),
        user_id=user_id,
        now=now,
    )


def named_person(session: Session, area: PropertyArea, ref: str) -> Holder | None:
    """The named proxy with this ref ("PX-3", case-insensitive) in the area, if any."""
    text = (ref or "").strip().upper()
    if not _NAMED_REF.fullmatch(text):
        return None
    return session.scalar(
        select(Holder).where(Holder.property_area_id == area.id, Holder.ref == text)
    )


def named_people(session: Session, area: PropertyArea) -> list[Holder]:
    """The area's named proxies, by number."""
    rows = session.scalars(
        select(Holder).where(
            Holder.property_area_id == area.id, Holder.ref.like(f"{NAMED_PREFIX}%")
        )
    )
    found = [h for h in rows if _NAMED_REF.fullmatch(h.ref)]
    return sorted(found, key=lambda h: int(h.ref[len(NAMED_PREFIX) :]))


# --- queries -----------------------------------------------------------------------------


def meeting_buildings(session: Session, meeting: Meeting) -> list[str]:
    """Buildings of the meeting's roll snapshot, in natural order."""
    if meeting.roll_version_id is None:
        return []
    names = session.scalars(
        select(Building.name)
        .select_from(RollEntry)
        .join(Unit, RollEntry.unit_id == Unit.id)
        .join(Building, Unit.building_id == Building.id)
        .where(RollEntry.roll_version_id == meeting.roll_version_id)
        .distinct()
    )
    return sorted(names, key=natural_key)


def holder_by_house(session: Session, meeting: Meeting, building: str, unit: str) -> Holder | None:
    """The holder of a unit in the meeting's roll snapshot (house number as printed)."""
    if meeting.roll_version_id is None:
        return None
    return session.scalar(
        select(Holder)
        .select_from(RollEntry)
        .join(Unit, RollEntry.unit_id == Unit.id)
        .join(Building, Unit.building_id == Building.id)
        .join(Holder, RollEntry.holder_id == Holder.id)
        .where(
            RollEntry.roll_version_id == meeting.roll_version_id,
            Building.name == (building or "").strip(),
            Unit.number == (unit or "").strip(),
        )
    )


def houses_in_meeting(
    session: Session, meeting: Meeting, holder_ids: set[int] | None = None
) -> dict[int, tuple[str, ...]]:
    """House numbers ("1号楼 1-101") of holders in the meeting's roll snapshot."""
    if meeting.roll_version_id is None:
        return {}
    query = (
        select(RollEntry.holder_id, Building.name, Unit.number)
        .select_from(RollEntry)
        .join(Unit, RollEntry.unit_id == Unit.id)
        .join(Building, Unit.building_id == Building.id)
        .where(RollEntry.roll_version_id == meeting.roll_version_id)
    )
    if holder_ids is not None:
        query = query.where(RollEntry.holder_id.in_(holder_ids))
    rows = sorted(session.execute(query), key=lambda r: (natural_key(r[1]), natural_key(r[2])))
    found: dict[int, list[str]] = {}
    for holder_id, building, number in rows:
        found.setdefault(holder_id, []).append(f"{building} {number}")
    return {holder_id: tuple(houses) for holder_id, houses in found.items()}


def proxies_held(session: Session, meeting_id: int, proxy_holder_id: int) -> list[Proxy]:
    """The authorisations in force that a holder holds as proxy in the meeting."""
    return list(
        session.scalars(
            select(Proxy)
            .where(
                Proxy.meeting_id == meeting_id,
                Proxy.proxy_holder_id == proxy_holder_id,
                Proxy.withdrawn_at.is_(None),
            )
            .order_by(Proxy.id)
        )
    )


def authorisation_for(
    session: Session, meeting_id: int, owner_ref: str, proxy_holder_id: int
) -> Proxy | None:
    """The authorisation in force that lets `proxy_holder_id` vote for the owner `owner_ref`
    (what a proxy's ballot challenge names in "proxy"), or None."""
    for proxy in proxies_held(session, meeting_id, proxy_holder_id):
        if proxy.owner.ref == owner_ref:
            return proxy
    return None


def proxies_of_meeting(session: Session, meeting: Meeting) -> list[ProxyListing]:
    """Every authorisation of the meeting, withdrawn ones included, oldest first."""
    proxies = list(
        session.scalars(
            select(Proxy).where(Proxy.meeting_id == meeting.id).order_by(Proxy.created_at, Proxy.id)
        )
    )
    holders = {p.owner_holder_id for p in proxies} | {p.proxy_holder_id for p in proxies}
    houses = houses_in_meeting(session, meeting, holders)
    ballots = dict(
        session.execute(
            select(Ballot.proxy_id, func.count())
            .where(Ballot.meeting_id == meeting.id, Ballot.proxy_id.is_not(None))
            .group_by(Ballot.proxy_id)
        ).all()
    )
    return [
        ProxyListing(
            statement_hash=p.statement_hash,
            owner_ref=p.owner.ref,
            owner_houses=houses.get(p.owner_holder_id, ()),
            proxy_ref=p.proxy_holder.ref,
            proxy_houses=houses.get(p.proxy_holder_id, ()),
            named=_NAMED_REF.fullmatch(p.proxy_holder.ref) is not None,
            created_at=p.created_at,
            instructions=instruction_count(p),
            withdrawn_at=p.withdrawn_at,
            ballots=int(ballots.get(p.id, 0)),
        )
        for p in proxies
    ]


def authorisation_of(session: Session, proxy: Proxy) -> Authorisation:
    """The public view of a stored authorisation."""
    area = session.get(PropertyArea, proxy.property_area_id)
    assert area is not None
    return _authorisation(area, proxy)
