"""Owner cards (业主一卡通): issuance, PIN checks, lock, unlock, revocation and reissue.

What the server keeps of a card is its public key, its certificate (signed by the platform's
issuer key) and argon2id hashes of its PIN and PUK. The secrets — a printed card's backup
code and seed, the PIN and the PUK — exist only in the `IssuedCard` objects that
`issue_cards` and `reissue_card` return, for the caller to print at once; they are never
written to the database, the log or a file by this module.

PIN retry counter. `check_pin` counts wrong PINs in `cards.failed_pins` with one atomic
`UPDATE … RETURNING`, so the count holds across workers, restarts and parallel attempts;
`MAX_PIN_ATTEMPTS` consecutive wrong PINs lock the card (`locked_at`). A locked card is
unlocked by an admin (`unlock_by_admin`, reason required) or by its owner with the PUK
(`unlock_with_puk`). PUK attempts are allowed on a locked card only; wrong PUKs keep
counting in the same `failed_pins` column, and `MAX_PUK_ATTEMPTS` wrong PUKs after the lock
(that is, `failed_pins` reaching `MAX_PIN_ATTEMPTS + MAX_PUK_ATTEMPTS`) revoke the card.

Revocation ends the card's web sessions at once (their rows are deleted). Ballots the card
signed before its revocation stay valid: revocation only stops new use of the card.

Every issue, lock, unlock, revocation and reissue is appended to the area's log with the
holder's pseudonymous ref, never a name.
"""

from __future__ import annotations

import datetime as dt
import math
import multiprocessing
import os
import re
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from flask import Flask
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from crypto.cardcode import check_card_number, new_backup_code, qr_fragment, seed_from_backup_code
from crypto.certificates import issue_certificate, load_or_create_issuer_key
from crypto.errors import InvalidCardCode
from crypto.keys import CardKey, PublicKey
from crypto.pin import (
    check_pin_format,
    generate_pin,
    generate_puk,
    hash_pin,
    hash_puk,
    verify_pin,
    verify_puk,
)
from voting.db import begin_write
from voting.domain.roll import natural_key
from voting.models import (
    Building,
    Card,
    CardKind,
    CardStatus,
    Holder,
    IssuerKey,
    PropertyArea,
    RollEntry,
    Unit,
    WebSession,
    utcnow,
)
from voting.services import NotFound, ServiceError, reload_locked, use_case
from voting.services.log import append
from voting.services.roll import current_version

if TYPE_CHECKING:
    from voting.cards.chip import ChipToken

__all__ = [
    "MAX_PIN_ATTEMPTS",
    "MAX_PUK_ATTEMPTS",
    "CardConflict",
    "IssuedCard",
    "PinResult",
    "Progress",
    "active_card_of_holder",
    "card_by_number",
    "cards_of_area",
    "check_pin",
    "houses_by_holder",
    "issue_card_outside_roll",
    "issue_cards",
    "load_issuer",
    "lock_by_admin",
    "pending_holders",
    "register_issuer",
    "reissue_card",
    "revoke_card",
    "unlock_by_admin",
    "unlock_with_puk",
]

MAX_PIN_ATTEMPTS = 5
MAX_PUK_ATTEMPTS = 10
DEFAULT_VALIDITY_DAYS = 3650
#: Batches larger than this hash their PINs and PUKs in worker processes.
POOL_THRESHOLD = 200
MAX_REASON_LENGTH = 500
_AREA_CODE = re.compile(r"[A-Z0-9]{1,16}")
_CHUNK = 2000

# (phase, done, total): phase is "prepare" (keys, certificates), "hash" or "write".
Progress = Callable[[str, int, int], None]


class CardConflict(ServiceError):
    """The card is not in a state that allows the action (already revoked, not locked…)."""


@dataclass(frozen=True)
class IssuedCard:
    """A card just issued, with the secrets to print. Never persisted; drop it after printing."""

    card_id: int
    number: str
    holder_ref: str
    holder_name: str
    houses: tuple[str, ...]
    backup_code: str | None = field(repr=False)
    seed: bytes | None = field(repr=False)
    pin: str = field(repr=False)
    puk: str = field(repr=False)
    qr_url: str | None = field(repr=False)
    holder_kind: str = "person"


@dataclass(frozen=True)
class PinResult:
    ok: bool
    reason: Literal["ok", "wrong", "locked", "revoked"]
    remaining: int


# --- the issuer key --------------------------------------------------------------------


def load_issuer(app: Flask) -> CardKey:
    """The platform's issuer key: VOTING_ISSUER_KEY_PATH, else <instance>/issuer-key
    (created with mode 0600 on first use)."""
    path = app.config.get("VOTING_ISSUER_KEY_PATH")
    if not path:
        os.makedirs(app.instance_path, exist_ok=True)
        path = os.path.join(app.instance_path, "issuer-key")
    return load_or_create_issuer_key(path)


def register_issuer(session: Session, key: CardKey) -> IssuerKey:
    """The `issuer_keys` row of `key`, added if missing (flushed; the caller commits)."""
    public = key.public_key
    row = session.scalar(select(IssuerKey).where(IssuerKey.public_key == public.hex()))
    if row is None:
        row = IssuerKey(key_id=public.key_id, public_key=public.hex())
        session.add(row)
        session.flush()
    return row


# --- reading ---------------------------------------------------------------------------


def card_by_number(session: Session, number: str) -> Card | None:
    return session.scalar(select(Card).where(Card.number == number))


def cards_of_area(session: Session, area: PropertyArea) -> list[Card]:
    return list(
        session.scalars(select(Card).where(Card.property_area_id == area.id).order_by(Card.number))
    )


def active_card_of_holder(session: Session, holder_id: int) -> Card | None:
    return session.scalar(
        select(Card).where(Card.holder_id == holder_id, Card.status == CardStatus.active)
    )


@dataclass(frozen=True)
class _Holder:
    id: int
    ref: str
    name: str
    kind: str
    houses: tuple[str, ...]


def _current_holders(session: Session, area: PropertyArea) -> dict[str, _Holder]:
    """The holders of the area's current roll version by ref, in house-number order."""
    version = current_version(session, area)
    if version is None:
        return {}
    query = (
        select(Holder.id, Holder.ref, Holder.name, Holder.kind, Building.name, Unit.number)
        .select_from(RollEntry)
        .join(Unit, RollEntry.unit_id == Unit.id)
        .join(Building, Unit.building_id == Building.id)
        .join(Holder, RollEntry.holder_id == Holder.id)
        .where(RollEntry.roll_version_id == version.id)
    )
    rows = sorted(session.execute(query), key=lambda r: (natural_key(r[4]), natural_key(r[5])))
    found: dict[str, tuple[int, str, str, str, list[str]]] = {}
    for holder_id, ref, name, kind, building, unit in rows:
        entry = found.setdefault(ref, (holder_id, ref, name, kind.value, []))
        entry[4].append(f"{building} {unit}")
    return {
        ref: _Holder(h_id, ref, name, kind, tuple(houses))
        for ref, (h_id, _ref, name, kind, houses) in found.items()
    }


def houses_by_holder(session: Session, area: PropertyArea) -> dict[int, tuple[str, ...]]:
    """House numbers ("3号楼 2-1203") of each holder id in the area's current roll."""
    return {h.id: h.houses for h in _current_holders(session, area).values()}


def _active_holder_ids(session: Session, area: PropertyArea) -> set[int]:
    return set(
        session.scalars(
            select(Card.holder_id).where(
                Card.property_area_id == area.id, Card.status == CardStatus.active
            )
        )
    )


def pending_holders(session: Session, area: PropertyArea) -> list[str]:
    """Refs of the current roll's holders without an active card (what `issue_cards` issues)."""
    active = _active_holder_ids(session, area)
    return [h.ref for h in _current_holders(session, area).values() if h.id not in active]


# --- issuing ---------------------------------------------------------------------------


def _hash_pairs(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Worker entry point: argon2id hashes of (PIN, PUK) pairs."""
    return [(hash_pin(pin), hash_puk(puk)) for pin, puk in pairs]


def _default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def hash_codes(
    pairs: Sequence[tuple[str, str]], progress: Callable[[int], None] | None = None
) -> list[tuple[str, str]]:
    """Hash (PIN, PUK) pairs, on every core for a large batch.

    Workers are spawned (they inherit no connection or lock) and receive only the PIN and PUK
    strings, through the executor's pipe.
    """
    workers = _default_workers() if len(pairs) > POOL_THRESHOLD else 1
    size = max(1, min(100, math.ceil(len(pairs) / (workers * 8))))
    chunks = [list(pairs[i : i + size]) for i in range(0, len(pairs), size)]
    hashed: list[tuple[str, str]] = []
    if workers == 1:
        results: Any = map(_hash_pairs, chunks)
        pool = None
    else:
        pool = ProcessPoolExecutor(
            max_workers=min(workers, len(chunks)), mp_context=multiprocessing.get_context("spawn")
        )
        results = pool.map(_hash_pairs, chunks)
    try:
        for chunk in results:
            hashed.extend(chunk)
            if progress is not None:
                progress(len(hashed))
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    return hashed


def _check_area_code(area: PropertyArea) -> str:
    if not _AREA_CODE.fullmatch(area.code):
        raise ServiceError(
            f"area code {area.code!r} cannot start a card number: it must be 1 to 16 "
            "upper-case letters A-Z or digits"
        )
    return area.code


def _next_serial(session: Session, area: PropertyArea) -> int:
    numbers = session.scalars(select(Card.number).where(Card.property_area_id == area.id))
    return max((int(n.rsplit("-", 1)[1]) for n in numbers), default=0) + 1


def _lock_area(session: Session, area: PropertyArea) -> None:
    """Serialise issuance in one area (PostgreSQL row lock; SQLite has one writer anyway)."""
    session.execute(select(PropertyArea.id).where(PropertyArea.id == area.id).with_for_update())


def _truncate(now: dt.datetime | None) -> dt.datetime:
    return (now or utcnow()).replace(microsecond=0)


@dataclass
class _Draft:
    holder: _Holder
    number: str
    public_key: PublicKey
    backup_code: str | None
    seed: bytes | None
    pin: str
    puk: str
    qr_url: str | None
    row: dict[str, Any] = field(default_factory=dict)


def _issue(
    session: Session,
    area: PropertyArea,
    issuer: CardKey,
    holders: Sequence[_Holder],
    *,
    base_url: str,
    user_id: int | None,
    chip: ChipToken | None,
    validity_days: int,
    now: dt.datetime,
    progress: Progress | None,
    replaces_id: int | None = None,
) -> list[IssuedCard]:
    code = _check_area_code(area)
    if validity_days < 1:
        raise ServiceError("validity_days must be at least 1")
    if not holders:
        return []
    issuer_row = register_issuer(session, issuer)
    serial = _next_serial(session, area)
    if serial + len(holders) - 1 > 999_999:
        raise ServiceError(f"area {code} has run out of card numbers")
    not_after = now + dt.timedelta(days=validity_days)
    kind = CardKind.chip if chip is not None else CardKind.printed
    drafts: list[_Draft] = []
    total = len(holders)
    for index, holder in enumerate(holders):
        number = check_card_number(f"{code}-{serial + index:06d}")
        backup = seed = qr_url = None
        if chip is None:
            backup = new_backup_code()
            seed = seed_from_backup_code(number, backup)
            public = CardKey(seed).public_key
            qr_url = f"{base_url.rstrip('/')}/card#{qr_fragment(number, seed)}"
        else:
            public = PublicKey(chip.generate_card_key(number))
        certificate = issue_certificate(
            issuer,
            card_number=number,
            holder_id=holder.ref,
            area_code=code,
            card_key=public,
            not_before=now,
            not_after=not_after,
        )
        draft = _Draft(holder, number, public, backup, seed, generate_pin(), generate_puk(), qr_url)
        draft.row = {
            "property_area_id": area.id,
            "holder_id": holder.id,
            "number": number,
            "kind": kind,
            "status": CardStatus.active,
            "public_key": public.hex(),
            "issuer_key_id": issuer_row.id,
            "certificate": certificate.data,
            "certificate_signature": certificate.signature,
            "not_after": not_after,
            "failed_pins": 0,
            "locked_at": None,
            "issued_at": now,
            "issued_by_id": user_id,
            "revoked_at": None,
            "revoke_reason": None,
            "replaces_id": replaces_id,
        }
        draft.row["_fingerprint"] = certificate.fingerprint
        drafts.append(draft)
        if progress is not None and ((index + 1) % 100 == 0 or index + 1 == total):
            progress("prepare", index + 1, total)
    report = (lambda done: progress("hash", done, total)) if progress else None
    hashes = hash_codes([(d.pin, d.puk) for d in drafts], report)
    fingerprints = []
    rows = []
    for draft, (pin_hash, puk_hash) in zip(drafts, hashes, strict=True):
        row = dict(draft.row, pin_hash=pin_hash, puk_hash=puk_hash)
        fingerprints.append(row.pop("_fingerprint"))
        rows.append(row)
    ids: dict[str, int] = {}
    for start in range(0, total, _CHUNK):
        statement = insert(Card).returning(Card.id, Card.number, sort_by_parameter_order=True)
        for card_id, number in session.execute(statement, rows[start : start + _CHUNK]):
            ids[number] = card_id
        if progress is not None:
            progress("write", min(start + _CHUNK, total), total)
    issued = []
    for draft, fingerprint in zip(drafts, fingerprints, strict=True):
        append(
            session,
            area,
            "card.issue",
            {
                "card": draft.number,
                "holder": draft.holder.ref,
                "public_key": draft.public_key.hex(),
                "certificate": fingerprint,
                "kind": kind.value,
            },
            at=now,
        )
        issued.append(
            IssuedCard(
                card_id=ids[draft.number],
                number=draft.number,
                holder_ref=draft.holder.ref,
                holder_name=draft.holder.name,
                houses=draft.holder.houses,
                backup_code=draft.backup_code,
                seed=draft.seed,
                pin=draft.pin,
                puk=draft.puk,
                qr_url=draft.qr_url,
                holder_kind=draft.holder.kind,
            )
        )
    return issued


@use_case
def issue_cards(
    session: Session,
    area: PropertyArea,
    issuer: CardKey,
    *,
    base_url: str,
    holder_refs: Sequence[str] | None = None,
    user_id: int | None = None,
    chip: ChipToken | None = None,
    validity_days: int = DEFAULT_VALIDITY_DAYS,
    now: dt.datetime | None = None,
    progress: Progress | None = None,
) -> list[IssuedCard]:
    """Issue a card to every holder of the current roll without an active card (or to the
    holders named by `holder_refs`), in house-number order; return them with their secrets."""
    _check_area_code(area)
    _lock_area(session, area)
    if current_version(session, area) is None:
        raise ServiceError(f"area {area.code} has no owner roll yet")
    holders = _current_holders(session, area)
    active = _active_holder_ids(session, area)
    if holder_refs is None:
        chosen = [h for h in holders.values() if h.id not in active]
    else:
        chosen = []
        for ref in dict.fromkeys(holder_refs):
            holder = holders.get(ref)
            if holder is None:
                raise NotFound(f"no holder {ref} in the current roll of area {area.code}")
            if holder.id in active:
                card = active_card_of_holder(session, holder.id)
                number = card.number if card else "?"
                raise CardConflict(
                    f"holder {ref} already has an active card {number}; revoke it first"
                )
            chosen.append(holder)
    return _issue(
        session,
        area,
        issuer,
        chosen,
        base_url=base_url,
        user_id=user_id,
        chip=chip,
        validity_days=validity_days,
        now=_truncate(now),
        progress=progress,
    )


def issue_card_outside_roll(
    session: Session,
    area: PropertyArea,
    issuer: CardKey,
    holder: Holder,
    *,
    base_url: str,
    houses: Sequence[str] = (),
    user_id: int | None = None,
    validity_days: int = DEFAULT_VALIDITY_DAYS,
    now: dt.datetime | None = None,
) -> IssuedCard:
    """Issue a printed card to a holder with no unit in the roll (a named proxy, who can vote
    only for the owners who authorised them). Not a use case: runs in the caller's
    transaction. `houses` is what the card prints where an owner's card shows house numbers."""
    _check_area_code(area)
    _lock_area(session, area)
    if holder.property_area_id != area.id:
        raise NotFound(f"holder {holder.ref} is not in area {area.code}")
    card = active_card_of_holder(session, holder.id)
    if card is not None:
        raise CardConflict(f"holder {holder.ref} already has an active card {card.number}")
    chosen = _Holder(holder.id, holder.ref, holder.name, holder.kind.value, tuple(houses))
    (issued,) = _issue(
        session,
        area,
        issuer,
        [chosen],
        base_url=base_url,
        user_id=user_id,
        chip=None,
        validity_days=validity_days,
        now=_truncate(now),
        progress=None,
    )
    return issued


# --- PIN checks --------------------------------------------------------------------------


def _state(session: Session, card: Card) -> tuple[CardStatus, dt.datetime | None, int]:
    session.refresh(card)
    return card.status, card.locked_at, card.failed_pins


def _refusal(status: CardStatus, locked_at: dt.datetime | None) -> PinResult | None:
    if status is not CardStatus.active:
        return PinResult(False, "revoked", 0)
    if locked_at is not None:
        return PinResult(False, "locked", 0)
    return None


def _usable(card_id: int) -> Any:
    return (Card.id == card_id, Card.status == CardStatus.active, Card.locked_at.is_(None))


def check_pin(
    session: Session, card: Card, pin: str, *, now: dt.datetime | None = None
) -> PinResult:
    """Check a card's PIN against its hash and the retry counter.

    Not a use case: it starts a write transaction (committing whatever the session had open)
    and leaves it open; the caller commits, also after a wrong PIN, so that the count stays.
    """
    begin_write(session)
    status, locked_at, _failed = _state(session, card)
    refused = _refusal(status, locked_at)
    if refused is not None:
        return refused
    if verify_pin(card.pin_hash, pin):
        reset = session.execute(
            update(Card).where(*_usable(card.id)).values(failed_pins=0),
            execution_options={"synchronize_session": False},
        )
        session.expire(card)
        if reset.rowcount == 0:  # type: ignore[attr-defined]
            return _refusal(*_state(session, card)[:2]) or PinResult(False, "locked", 0)
        return PinResult(True, "ok", MAX_PIN_ATTEMPTS)
    failed = session.scalar(
        update(Card)
        .where(*_usable(card.id))
        .values(failed_pins=Card.failed_pins + 1)
        .returning(Card.failed_pins),
        execution_options={"synchronize_session": False},
    )
    session.expire(card)
    if failed is None:
        return _refusal(*_state(session, card)[:2]) or PinResult(False, "locked", 0)
    if failed >= MAX_PIN_ATTEMPTS:
        _lock(session, card, now or utcnow(), reason=f"{MAX_PIN_ATTEMPTS} wrong PINs")
    return PinResult(False, "wrong", max(MAX_PIN_ATTEMPTS - failed, 0))


def _lock(
    session: Session, card: Card, now: dt.datetime, *, reason: str, by: dict[str, Any] | None = None
) -> bool:
    locked = session.execute(
        update(Card).where(*_usable(card.id)).values(locked_at=now),
        execution_options={"synchronize_session": False},
    )
    session.expire(card)
    if locked.rowcount == 0:  # type: ignore[attr-defined]
        return False
    data = {"card": card.number, "holder": card.holder.ref, "reason": reason, **(by or {})}
    append(session, _area_of(session, card), "card.lock", data, at=now)
    return True


def _area_of(session: Session, card: Card) -> PropertyArea:
    area = session.get(PropertyArea, card.property_area_id)
    assert area is not None
    return area


def _reason(reason: str) -> str:
    text = " ".join((reason or "").split())
    if not text:
        raise ServiceError("a reason is required")
    if len(text) > MAX_REASON_LENGTH:
        raise ServiceError(f"the reason must be at most {MAX_REASON_LENGTH} characters")
    return text


def _fresh(session: Session, card: Card) -> Card:
    """The card re-read inside the current transaction (PostgreSQL: row-locked)."""
    return reload_locked(session, Card, card.id, f"no card {card.number}")


@use_case
def lock_by_admin(
    session: Session,
    card: Card,
    *,
    reason: str,
    user_id: int | None,
    now: dt.datetime | None = None,
) -> None:
    """Lock an active card at once (e.g. reported lost while its owner looks for it)."""
    text = _reason(reason)
    card = _fresh(session, card)
    if card.status is not CardStatus.active:
        raise CardConflict(f"card {card.number} is revoked")
    if card.locked_at is not None:
        raise CardConflict(f"card {card.number} is already locked")
    _lock(session, card, now or utcnow(), reason=text, by={"by": "admin", "user": user_id})


def _unlock(session: Session, card: Card, data: dict[str, Any], now: dt.datetime) -> None:
    card.failed_pins = 0
    card.locked_at = None
    session.flush()
    entry = {"card": card.number, "holder": card.holder.ref, **data}
    append(session, _area_of(session, card), "card.unlock", entry, at=now)


@use_case
def unlock_by_admin(
    session: Session,
    card: Card,
    *,
    reason: str,
    user_id: int | None,
    now: dt.datetime | None = None,
) -> None:
    """Clear a card's lock and wrong-PIN count; the PIN stays the same."""
    text = _reason(reason)
    card = _fresh(session, card)
    if card.status is not CardStatus.active:
        raise CardConflict(f"card {card.number} is revoked")
    if card.locked_at is None and card.failed_pins == 0:
        raise CardConflict(f"card {card.number} is not locked")
    _unlock(session, card, {"by": "admin", "user": user_id, "reason": text}, now or utcnow())


@use_case
def unlock_with_puk(
    session: Session, card: Card, puk: str, new_pin: str, *, now: dt.datetime | None = None
) -> bool:
    """Unlock a locked card with its PUK and set a new 6-digit PIN; False for a wrong PUK.

    Commits either way. Only a locked card takes a PUK; a wrong PUK counts in `failed_pins`
    and `MAX_PUK_ATTEMPTS` wrong PUKs revoke the card.
    """
    try:
        check_pin_format(new_pin)
    except ValueError as exc:
        raise ServiceError("the new PIN must be exactly 6 digits") from exc
    when = now or utcnow()
    card = _fresh(session, card)
    if card.status is not CardStatus.active:
        raise CardConflict(f"card {card.number} is revoked")
    if card.locked_at is None:
        raise CardConflict(f"card {card.number} is not locked: use the PIN")
    if verify_puk(card.puk_hash, puk):
        card.pin_hash = hash_pin(new_pin)
        _unlock(session, card, {"by": "PUK"}, when)
        return True
    failed = session.scalar(
        update(Card)
        .where(Card.id == card.id)
        .values(failed_pins=Card.failed_pins + 1)
        .returning(Card.failed_pins),
        execution_options={"synchronize_session": False},
    )
    session.expire(card)
    if failed is not None and failed >= MAX_PIN_ATTEMPTS + MAX_PUK_ATTEMPTS:
        _revoke(session, card, f"{MAX_PUK_ATTEMPTS} wrong PUKs", None, when)
    return False


# --- revoking and reissuing ---------------------------------------------------------------


def _revoke(
    session: Session, card: Card, reason: str, user_id: int | None, now: dt.datetime
) -> None:
    card.status = CardStatus.revoked
    card.revoked_at = now
    card.revoke_reason = reason
    session.flush()
    ended = session.execute(delete(WebSession).where(WebSession.card_id == card.id))
    data = {
        "card": card.number,
        "holder": card.holder.ref,
        "reason": reason,
        "user": user_id,
        "sessions_ended": ended.rowcount,  # type: ignore[attr-defined]
    }
    append(session, _area_of(session, card), "card.revoke", data, at=now)


@use_case
def revoke_card(
    session: Session,
    card: Card,
    *,
    reason: str,
    user_id: int | None,
    now: dt.datetime | None = None,
) -> None:
    """Revoke a card for good and end its web sessions. Earlier ballots stay valid."""
    text = _reason(reason)
    card = _fresh(session, card)
    if card.status is not CardStatus.active:
        raise CardConflict(f"card {card.number} is already revoked")
    _revoke(session, card, text, user_id, now or utcnow())


@use_case
def reissue_card(
    session: Session,
    card: Card,
    issuer: CardKey,
    *,
    reason: str,
    user_id: int | None,
    base_url: str,
    chip: ChipToken | None = None,
    validity_days: int = DEFAULT_VALIDITY_DAYS,
    now: dt.datetime | None = None,
) -> IssuedCard:
    """Revoke `card` if still active and issue its holder a new card (new key and number)."""
    text = _reason(reason)
    when = _truncate(now)
    card = _fresh(session, card)
    area = _area_of(session, card)
    _lock_area(session, area)
    holder = next(
        (h for h in _current_holders(session, area).values() if h.id == card.holder_id), None
    )
    if holder is None:
        raise CardConflict(
            f"holder {card.holder.ref} is not in the current roll of area {area.code}"
        )
    other = active_card_of_holder(session, card.holder_id)
    if other is not None and other.id != card.id:
        raise CardConflict(
            f"holder {holder.ref} already has another active card {other.number}; revoke it first"
        )
    if card.status is CardStatus.active:
        _revoke(session, card, text, user_id, when)
    (issued,) = _issue(
        session,
        area,
        issuer,
        [holder],
        base_url=base_url,
        user_id=user_id,
        chip=chip,
        validity_days=validity_days,
        now=when,
        progress=None,
        replaces_id=card.id,
    )
    data = {
        "card": issued.number,
        "replaces": card.number,
        "holder": holder.ref,
        "reason": text,
        "user": user_id,
    }
    append(session, area, "card.reissue", data, at=when)
    return issued


def parse_card_number(number: str) -> str:
    """`number` upper-cased and checked; NotFound for something that cannot be a card."""
    text = (number or "").strip().upper()
    try:
        return check_card_number(text)
    except InvalidCardCode as exc:
        raise NotFound(f"no card {number!r}") from exc


def count_active(session: Session, area: PropertyArea) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(Card)
            .where(Card.property_area_id == area.id, Card.status == CardStatus.active)
        )
        or 0
    )


# --- printing ------------------------------------------------------------------------------


def card_faces(issued: Sequence[IssuedCard], area_name: str) -> list[Any]:
    """`CardFace`s of the printed cards among `issued` (chip cards have no printed face)."""
    from voting.cards.printing import CardFace, mask_name

    return [
        CardFace(
            card_number=card.number,
            holder_name=mask_name(card.holder_name, entity=card.holder_kind != "person"),
            house_numbers=card.houses,
            area_name=area_name,
            qr_payload=card.qr_url,
        )
        for card in issued
        if card.qr_url is not None
    ]


def pin_letters(issued: Sequence[IssuedCard], area_name: str) -> list[Any]:
    """One `PinLetter` per issued card."""
    from voting.cards.printing import PinLetter, mask_name

    return [
        PinLetter(
            card_number=card.number,
            holder_name=mask_name(card.holder_name, entity=card.holder_kind != "person"),
            house_numbers=card.houses,
            area_name=area_name,
            pin=card.pin,
            puk=card.puk,
        )
        for card in issued
    ]
