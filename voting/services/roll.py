"""Importing the owner roll: check a file, show the difference, apply it as a new version.

All or nothing: a file with any bad row imports nothing, and an import is one transaction.
`check_roll_file` never writes; `import_roll` recomputes the same check and refuses if the
current version is no longer the one the difference was computed against, so the
difference shown is the difference applied.

ID numbers never reach the database: the domain rules keep only their keyed hash
(HMAC-SHA-256 with the deployment's ID hash key) and last 4 characters. A file waiting in
`roll_uploads` for the web confirm step is stored encrypted (AES-256-GCM under a key
derived from the same secret), deleted when applied or discarded, and expired after 24 h.

Speed: the area's buildings, units and holders are preloaded into dicts and new rows are
inserted in bulk (`session.execute(insert(...), rows)`), so 50,000 units import in seconds.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from voting.domain.area import format_area
from voting.domain.roll import (
    HolderState,
    KnownHolder,
    ParsedRoll,
    RollDiff,
    RollError,
    RollHolder,
    SnapshotEntry,
    UnitState,
    diff_rolls,
    match_holders,
    natural_key,
    new_holder_ref,
    parse_roll,
    snapshot_sha256,
)
from voting.models import (
    AreaSource,
    Base,
    Building,
    Holder,
    HolderKind,
    PropertyArea,
    RollEntry,
    RollUpload,
    RollVersion,
    Unit,
    UnitStatus,
    utcnow,
)
from voting.rollfile import RollFileError, read_roll_file
from voting.services import NotFound, ServiceError, log, use_case

__all__ = [
    "UPLOAD_LIFETIME",
    "Progress",
    "RollPreview",
    "RollRejected",
    "VersionEntry",
    "apply_roll_upload",
    "check_roll_file",
    "current_version",
    "discard_roll_upload",
    "expire_roll_uploads",
    "get_roll_upload",
    "get_version",
    "import_roll",
    "list_versions",
    "preview_roll_upload",
    "stage_roll_upload",
    "verify_version",
    "version_entries",
]

# (phase, done, total): phase is "check" while rows are validated, "write" while stored.
Progress = Callable[[str, int, int], None]

UPLOAD_LIFETIME = dt.timedelta(hours=24)
_CHUNK = 5000


@dataclass(frozen=True)
class RollPreview:
    """What importing a file would do: its errors, or the new roll and its difference."""

    filename: str
    sha256: str
    data_rows: int
    errors: tuple[RollError, ...]
    base_version: int | None
    unit_count: int = 0
    headcount: int = 0
    total_area_centi: int = 0
    diff: RollDiff | None = None
    ignored_columns: tuple[str, ...] = ()
    # Every holder the difference mentions, by identity key (old roll's, then the file's).
    holders: Mapping[str, HolderState] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def has_changes(self) -> bool:
        return self.ok and self.diff is not None and self.diff.has_changes

    @property
    def next_version(self) -> int:
        return (self.base_version or 0) + 1


class RollRejected(ServiceError):
    """The file has errors; nothing was imported."""

    def __init__(self, preview: RollPreview) -> None:
        count = len(preview.errors)
        super().__init__(
            f"{count} error{'s' if count != 1 else ''} in {preview.filename}: nothing was imported"
        )
        self.preview = preview
        self.errors = preview.errors


# --- the area's current roll ---------------------------------------------------------


@dataclass
class _Current:
    version: RollVersion | None
    buildings: dict[str, int]
    units: dict[tuple[int, str], int]
    known: list[KnownHolder]
    old_units: dict[tuple[str, str], UnitState] = field(default_factory=dict)
    old_holders: dict[str, HolderState] = field(default_factory=dict)


def _identity(holder_id: int) -> str:
    return f"#{holder_id}"


def _building_ids(session: Session, area: PropertyArea) -> dict[str, int]:
    query = select(Building.name, Building.id).where(Building.property_area_id == area.id)
    return {name: building_id for name, building_id in session.execute(query)}


def _unit_ids(session: Session, area: PropertyArea) -> dict[tuple[int, str], int]:
    query = select(Unit.id, Unit.building_id, Unit.number).where(Unit.property_area_id == area.id)
    return {
        (building_id, number): unit_id for unit_id, building_id, number in session.execute(query)
    }


def _entries_query(version: RollVersion, *holder_columns: Any) -> Select[Any]:
    """A version's entries: building, unit, area, source, status, parking, the given
    holder columns, co-owners, guardian."""
    return (
        select(
            Building.name,
            Unit.number,
            RollEntry.area_centi,
            RollEntry.area_source,
            RollEntry.status,
            RollEntry.is_parking,
            *holder_columns,
            RollEntry.co_owners,
            RollEntry.guardian,
        )
        .join(Unit, RollEntry.unit_id == Unit.id)
        .join(Building, Unit.building_id == Building.id)
        .where(RollEntry.roll_version_id == version.id)
    )


def _load_current(session: Session, area: PropertyArea) -> _Current:
    version = current_version(session, area)
    buildings = _building_ids(session, area)
    units = _unit_ids(session, area)
    known = [
        KnownHolder(h_id, ref, kind.value, name, hashed, last4, phone)
        for h_id, ref, kind, name, hashed, last4, phone in session.execute(
            select(
                Holder.id,
                Holder.ref,
                Holder.kind,
                Holder.name,
                Holder.id_hash,
                Holder.id_last4,
                Holder.phone,
            ).where(Holder.property_area_id == area.id)
        )
    ]
    current = _Current(version, buildings, units, known)
    if version is None:
        return current
    by_id = {h.id: h for h in known}
    query = _entries_query(version, RollEntry.holder_id)
    for (
        building,
        number,
        area_c,
        source,
        status,
        parking,
        holder_id,
        co,
        guardian,
    ) in session.execute(query):
        current.old_units[(building, number)] = UnitState(
            area_c, source.value, status.value, parking, _identity(holder_id), co, guardian
        )
        if _identity(holder_id) not in current.old_holders:
            h = by_id[holder_id]
            current.old_holders[_identity(holder_id)] = HolderState(
                h.ref, h.kind, h.name, h.id_last4, h.phone
            )
    return current


# --- checking --------------------------------------------------------------------------


@dataclass
class _Plan:
    preview: RollPreview
    parsed: ParsedRoll
    current: _Current
    matched: dict[str, KnownHolder | None]


def _holder_identity(key: str, matched: dict[str, KnownHolder | None]) -> str:
    known = matched.get(key)
    return _identity(known.id) if known is not None else f"new:{key}"


def _holder_state(holder: RollHolder, known: KnownHolder | None) -> HolderState:
    last4 = holder.id_last4
    if known is not None and holder.id_hash is None:
        last4 = known.id_last4  # the developer's number, given in an earlier file
    return HolderState(known.ref if known else None, holder.kind, holder.name, last4, holder.phone)


def _plan(
    session: Session,
    area: PropertyArea,
    filename: str,
    content: bytes,
    id_hash_key: str,
    progress: Progress | None,
) -> _Plan:
    sha = hashlib.sha256(content).hexdigest()
    current = _load_current(session, area)
    base = current.version.number if current.version else None
    try:
        rows = read_roll_file(filename, content)
    except RollFileError as exc:
        preview = RollPreview(filename, sha, 0, (exc.error,), base)
        return _Plan(preview, ParsedRoll((), {}, (exc.error,), 0), current, {})
    total = max(len(rows) - 1, 1)
    report = (lambda done: progress("check", done, total)) if progress else None
    parsed = parse_roll(rows, id_hash_key, progress=report)
    if parsed.errors:
        preview = RollPreview(
            filename, sha, parsed.data_rows, parsed.errors, base,
            ignored_columns=parsed.ignored_columns,
        )  # fmt: skip
        return _Plan(preview, parsed, current, {})
    matched = match_holders(parsed.holders, current.known)
    new_units = {
        (row.building, row.unit): UnitState(
            row.area_centi,
            row.area_source,
            row.status,
            row.is_parking,
            _holder_identity(row.holder_key, matched),
            row.co_owners,
            row.guardian,
        )
        for row in parsed.rows
    }
    new_holders = {
        _holder_identity(key, matched): _holder_state(holder, matched.get(key))
        for key, holder in parsed.holders.items()
    }
    diff = diff_rolls(current.old_units, new_units, current.old_holders, new_holders)
    preview = RollPreview(
        filename,
        sha,
        parsed.data_rows,
        (),
        base,
        unit_count=len(parsed.rows),
        headcount=len(parsed.holders),
        total_area_centi=parsed.total_area_centi,
        diff=diff,
        ignored_columns=parsed.ignored_columns,
        holders={**current.old_holders, **new_holders},
    )
    return _Plan(preview, parsed, current, matched)


def check_roll_file(
    session: Session,
    area: PropertyArea,
    filename: str,
    content: bytes,
    id_hash_key: str,
    *,
    progress: Progress | None = None,
) -> RollPreview:
    """Parse and validate a roll file and compare it with the area's current version.

    Never writes. `preview.errors` lists every problem (line and reason); if it is empty,
    `preview.diff` is the difference an import would make.
    """
    return _plan(session, area, filename, content, id_hash_key, progress).preview


# --- importing ------------------------------------------------------------------------


def _bulk_insert(
    session: Session,
    model: type[Base],
    rows: Sequence[dict[str, Any]],
    progress: Callable[[int], None] | None = None,
) -> None:
    """Insert plain rows (all with the same keys) without ORM bookkeeping.

    PostgreSQL: COPY … FROM STDIN through the session's own connection (same
    transaction), an order of magnitude faster than multi-row INSERTs. SQLite: Core
    executemany in chunks.
    """
    if not rows:
        return
    table = model.__table__
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        for start in range(0, len(rows), _CHUNK):
            session.execute(insert(table), list(rows[start : start + _CHUNK]))
            if progress is not None:
                progress(min(start + _CHUNK, len(rows)))
        return
    quote = connection.dialect.identifier_preparer.quote
    names = list(rows[0])
    sql = f"COPY {quote(table.name)} ({', '.join(quote(n) for n in names)}) FROM STDIN"
    raw: Any = connection.connection.driver_connection
    with raw.cursor() as cursor, cursor.copy(sql) as copy:
        for count, row in enumerate(rows, start=1):
            copy.write_row([_copy_value(row[name]) for name in names])
            if progress is not None and (count % _CHUNK == 0 or count == len(rows)):
                progress(count)


def _copy_value(value: Any) -> Any:
    return value.value if isinstance(value, enum.Enum) else value


def _store_buildings(session: Session, area: PropertyArea, plan: _Plan) -> dict[str, int]:
    buildings = plan.current.buildings
    missing = sorted({row.building for row in plan.parsed.rows} - buildings.keys())
    if missing:
        _bulk_insert(
            session, Building, [{"property_area_id": area.id, "name": name} for name in missing]
        )
        buildings.update(_building_ids(session, area))
    return buildings


def _store_units(
    session: Session, area: PropertyArea, plan: _Plan, buildings: dict[str, int]
) -> dict[tuple[str, str], int]:
    units = plan.current.units
    wanted = [(buildings[row.building], row.unit) for row in plan.parsed.rows]
    missing = [key for key in wanted if key not in units]
    if missing:
        _bulk_insert(
            session,
            Unit,
            [
                {"property_area_id": area.id, "building_id": building_id, "number": number}
                for building_id, number in missing
            ],
        )
        units.update(_unit_ids(session, area))
    return {
        (row.building, row.unit): units[(buildings[row.building], row.unit)]
        for row in plan.parsed.rows
    }


def _store_holders(session: Session, area: PropertyArea, plan: _Plan) -> dict[str, tuple[int, str]]:
    """Holder id and ref for every holder key of the file, creating or updating rows."""
    now = utcnow()
    taken = {h.ref for h in plan.current.known}
    result: dict[str, tuple[int, str]] = {}
    updates: list[dict[str, object]] = []
    inserts: list[dict[str, object]] = []
    for key, holder in plan.parsed.holders.items():
        known = plan.matched.get(key)
        if known is None:
            inserts.append(
                {
                    "property_area_id": area.id,
                    "ref": new_holder_ref(taken, secrets.token_bytes),
                    "kind": HolderKind(holder.kind),
                    "name": holder.name,
                    "id_hash": holder.id_hash,
                    "id_last4": holder.id_last4,
                    "phone": holder.phone,
                    "created_at": now,
                }
            )
            continue
        result[key] = (known.id, known.ref)
        wanted: dict[str, object] = {
            "kind": holder.kind,
            "name": holder.name,
            "phone": holder.phone,
            "id_hash": holder.id_hash or known.id_hash,
            "id_last4": holder.id_last4 if holder.id_hash else known.id_last4,
        }
        if any(getattr(known, name) != value for name, value in wanted.items()):
            updates.append({"id": known.id, **wanted, "kind": HolderKind(holder.kind)})
    if updates:
        session.execute(update(Holder), updates)
    if inserts:
        _bulk_insert(session, Holder, inserts)
        keys = dict(zip((row["ref"] for row in inserts), _new_keys(plan), strict=True))
        query = select(Holder.id, Holder.ref).where(Holder.property_area_id == area.id)
        for holder_id, ref in session.execute(query):
            if ref in keys:
                result[keys[ref]] = (holder_id, ref)
    return result


def _new_keys(plan: _Plan) -> Iterator[str]:
    return (key for key in plan.parsed.holders if plan.matched.get(key) is None)


def _apply(
    session: Session,
    area: PropertyArea,
    plan: _Plan,
    *,
    user_id: int | None,
    expected_base_version: int | None,
    progress: Progress | None,
) -> RollVersion:
    preview = plan.preview
    if preview.errors:
        raise RollRejected(preview)
    if preview.base_version != expected_base_version:
        raise ServiceError(
            f"the roll has changed since the file was checked: the current version is "
            f"{preview.base_version or 'none'}, not {expected_base_version or 'none'}; "
            "check the file again"
        )
    if not preview.has_changes:
        raise ServiceError("the roll is unchanged: nothing to import")
    rows = plan.parsed.rows
    buildings = _store_buildings(session, area, plan)
    unit_ids = _store_units(session, area, plan, buildings)
    holders = _store_holders(session, area, plan)
    entries = [
        SnapshotEntry(
            row.building,
            row.unit,
            row.area_centi,
            row.area_source,
            row.status,
            row.is_parking,
            holders[row.holder_key][1],
        )
        for row in rows
    ]
    version = RollVersion(
        property_area_id=area.id,
        number=preview.next_version,
        created_by_id=user_id,
        source_name=preview.filename[:255],
        source_sha256=preview.sha256,
        content_sha256=snapshot_sha256(entries),
        unit_count=len(rows),
        headcount=len({holder_id for holder_id, _ in holders.values()}),
        total_area_centi=preview.total_area_centi,
    )
    session.add(version)
    session.flush()
    values = [
        {
            "roll_version_id": version.id,
            "unit_id": unit_ids[(row.building, row.unit)],
            "holder_id": holders[row.holder_key][0],
            "area_centi": row.area_centi,
            "area_source": AreaSource(row.area_source),
            "status": UnitStatus(row.status),
            "is_parking": row.is_parking,
            "co_owners": row.co_owners,
            "guardian": row.guardian,
        }
        for row in rows
    ]
    report = (lambda done: progress("write", done, len(values))) if progress else None
    _bulk_insert(session, RollEntry, values, progress=report)
    diff = preview.diff
    log.append(
        session,
        area,
        "roll.import",
        {
            "version": version.number,
            "content_sha256": version.content_sha256,
            "source_sha256": version.source_sha256,
            "units": version.unit_count,
            "headcount": version.headcount,
            "total_area": format_area(version.total_area_centi),
            "by": user_id,
            "changes": diff.counts() if diff is not None else None,
        },
    )
    return version


def _lock_area(session: Session, area: PropertyArea) -> None:
    """Serialise imports of one area (PostgreSQL row lock; SQLite has one writer anyway)."""
    session.execute(select(PropertyArea.id).where(PropertyArea.id == area.id).with_for_update())


def _import(
    session: Session,
    area: PropertyArea,
    filename: str,
    content: bytes,
    id_hash_key: str,
    *,
    user_id: int | None,
    expected_base_version: int | None,
    progress: Progress | None,
) -> RollVersion:
    _lock_area(session, area)
    plan = _plan(session, area, filename, content, id_hash_key, progress)
    try:
        return _apply(
            session,
            area,
            plan,
            user_id=user_id,
            expected_base_version=expected_base_version,
            progress=progress,
        )
    except IntegrityError as exc:
        raise ServiceError(
            "another roll import of this area ran at the same time; check the file again"
        ) from exc


@use_case
def import_roll(
    session: Session,
    area: PropertyArea,
    filename: str,
    content: bytes,
    id_hash_key: str,
    *,
    user_id: int | None = None,
    expected_base_version: int | None,
    progress: Progress | None = None,
) -> RollVersion:
    """Import a roll file as the area's next version, all or nothing.

    `expected_base_version` is the version number the shown difference was computed
    against (None: the area had no roll); the import is refused if the current version is
    another one, if the file has errors (RollRejected), or if nothing changed.
    """
    return _import(
        session,
        area,
        filename,
        content,
        id_hash_key,
        user_id=user_id,
        expected_base_version=expected_base_version,
        progress=progress,
    )


# --- reading versions -------------------------------------------------------------------


def current_version(session: Session, area: PropertyArea) -> RollVersion | None:
    return session.scalar(
        select(RollVersion)
        .where(RollVersion.property_area_id == area.id)
        .order_by(RollVersion.number.desc())
        .limit(1)
    )


def list_versions(session: Session, area: PropertyArea) -> list[RollVersion]:
    """All versions of the area's roll, newest first."""
    return list(
        session.scalars(
            select(RollVersion)
            .where(RollVersion.property_area_id == area.id)
            .order_by(RollVersion.number.desc())
        )
    )


def get_version(session: Session, area: PropertyArea, number: int) -> RollVersion:
    version = session.scalar(
        select(RollVersion).where(
            RollVersion.property_area_id == area.id, RollVersion.number == number
        )
    )
    if version is None:
        raise NotFound(f"area {area.code} has no roll version {number}")
    return version


@dataclass(frozen=True)
class VersionEntry(SnapshotEntry):
    """One unit of a roll version as read back: the published fields, then the holder's
    kind and name, the co-owners and the guardian (for authorised eyes only)."""

    holder_kind: str
    holder_name: str
    co_owners: str | None
    guardian: str | None


def version_entries(session: Session, version: RollVersion) -> list[VersionEntry]:
    """The units of a version sorted by building and house number (natural order)."""
    query = _entries_query(version, Holder.ref, Holder.kind, Holder.name).join(
        Holder, RollEntry.holder_id == Holder.id
    )
    entries = [
        VersionEntry(b, u, a, s.value, st.value, p, ref, kind.value, name, co, guardian)
        for b, u, a, s, st, p, ref, kind, name, co, guardian in session.execute(query)
    ]
    entries.sort(key=lambda e: (natural_key(e.building), natural_key(e.unit)))
    return entries


def verify_version(session: Session, version: RollVersion) -> bool:
    """Whether the stored entries still hash to the version's content_sha256."""
    return snapshot_sha256(version_entries(session, version)) == version.content_sha256


# --- uploads waiting for confirmation (web) -------------------------------------------


def _upload_key(id_hash_key: str) -> bytes:
    return hmac.new(id_hash_key.encode(), b"voting roll upload v1", hashlib.sha256).digest()


def _seal(id_hash_key: str, area: PropertyArea, content: bytes) -> bytes:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = os.urandom(12)
    aad = f"roll-upload:{area.id}".encode()
    return nonce + AESGCM(_upload_key(id_hash_key)).encrypt(nonce, content, aad)


def _open(id_hash_key: str, area: PropertyArea, sealed: bytes) -> bytes:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    aad = f"roll-upload:{area.id}".encode()
    try:
        return AESGCM(_upload_key(id_hash_key)).decrypt(sealed[:12], sealed[12:], aad)
    except InvalidTag as exc:
        raise ServiceError("the uploaded file cannot be read back; upload it again") from exc


def _expire(session: Session, now: dt.datetime) -> int:
    result = session.execute(
        delete(RollUpload).where(RollUpload.created_at < now - UPLOAD_LIFETIME)
    )
    return int(getattr(result, "rowcount", 0) or 0)


@use_case
def expire_roll_uploads(session: Session, now: dt.datetime | None = None) -> int:
    """Delete uploads older than 24 hours; returns how many."""
    return _expire(session, now or utcnow())


@use_case
def stage_roll_upload(
    session: Session,
    area: PropertyArea,
    filename: str,
    content: bytes,
    id_hash_key: str,
    *,
    user_id: int | None = None,
) -> tuple[RollPreview, int | None]:
    """Check a file and, if it is valid and changes the roll, keep it for confirmation.

    Returns the preview and the id of the stored upload (None if nothing was stored:
    the file has errors or changes nothing). Expired uploads are deleted on the way.
    """
    _expire(session, utcnow())
    preview = check_roll_file(session, area, filename, content, id_hash_key)
    if not preview.has_changes:
        return preview, None
    current = current_version(session, area)
    upload = RollUpload(
        property_area_id=area.id,
        user_id=user_id,
        filename=filename[:255],
        sha256=preview.sha256,
        content=_seal(id_hash_key, area, content),
        base_version_id=current.id if current else None,
        summary=json.dumps(
            {
                "data_rows": preview.data_rows,
                "unit_count": preview.unit_count,
                "headcount": preview.headcount,
                "total_area_centi": preview.total_area_centi,
                **(preview.diff.counts() if preview.diff else {}),
            },
            sort_keys=True,
        ),
    )
    session.add(upload)
    session.flush()
    return preview, upload.id


def get_roll_upload(session: Session, area: PropertyArea, upload_id: int) -> RollUpload:
    upload = session.get(RollUpload, upload_id)
    if (
        upload is None
        or upload.property_area_id != area.id
        or upload.created_at < utcnow() - UPLOAD_LIFETIME
    ):
        raise NotFound("this upload no longer exists; upload the file again")
    return upload


def _upload_base(session: Session, upload: RollUpload) -> int | None:
    if upload.base_version_id is None:
        return None
    base = session.get(RollVersion, upload.base_version_id)
    return base.number if base else None


def preview_roll_upload(
    session: Session, area: PropertyArea, upload_id: int, id_hash_key: str
) -> tuple[RollUpload, RollPreview, int | None]:
    """The stored upload, its difference against the current roll now, and the version
    number it was checked against (if that differs from preview.base_version, confirming
    will be refused)."""
    upload = get_roll_upload(session, area, upload_id)
    content = _open(id_hash_key, area, upload.content)
    preview = check_roll_file(session, area, upload.filename, content, id_hash_key)
    return upload, preview, _upload_base(session, upload)


@use_case
def apply_roll_upload(
    session: Session,
    area: PropertyArea,
    upload_id: int,
    id_hash_key: str,
    *,
    user_id: int | None = None,
) -> RollVersion:
    """Import a stored upload against the version it was checked with, then delete it."""
    upload = get_roll_upload(session, area, upload_id)
    content = _open(id_hash_key, area, upload.content)
    version = _import(
        session,
        area,
        upload.filename,
        content,
        id_hash_key,
        user_id=user_id,
        expected_base_version=_upload_base(session, upload),
        progress=None,
    )
    session.delete(upload)
    return version


@use_case
def discard_roll_upload(session: Session, area: PropertyArea, upload_id: int) -> None:
    session.delete(get_roll_upload(session, area, upload_id))
