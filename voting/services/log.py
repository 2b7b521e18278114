"""Appending to a property area's tamper-evident log.

Called inside a use case, so that the entry commits or rolls back with the change it
records. The per-area head row is bumped with an upsert, which row-locks it until commit:
appends to one area are serialised and numbered without gaps.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from crypto.canonical import canonical_bytes
from crypto.merkle import leaf_hash
from crypto.statements import format_time
from voting.models import LogEntry, LogHead, PropertyArea, utcnow

LOG_VERSION = 1


def _next_seq(session: Session, area_id: int) -> int:
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(LogHead)
        .values(property_area_id=area_id, size=1)
        .on_conflict_do_update(
            index_elements=[LogHead.property_area_id], set_={"size": LogHead.size + 1}
        )
        .returning(LogHead.size)
    )
    size: int = session.execute(statement).scalar_one()
    return size - 1


def append(
    session: Session,
    area: PropertyArea,
    kind: str,
    data: dict[str, Any],
    *,
    at: dt.datetime | None = None,
) -> LogEntry:
    """Append one entry: canonical JSON naming the area, index, kind, time and data."""
    seq = _next_seq(session, area.id)
    when = at or utcnow()
    entry = canonical_bytes(
        {
            "v": LOG_VERSION,
            "area": area.code,
            "seq": seq,
            "kind": kind,
            "time": format_time(when),
            "data": data,
        }
    )
    row = LogEntry(
        property_area_id=area.id,
        seq=seq,
        kind=kind,
        entry=entry,
        leaf_hash=leaf_hash(entry),
        created_at=when,
    )
    session.add(row)
    session.flush()
    return row


def entries(session: Session, area: PropertyArea, start: int = 0) -> list[LogEntry]:
    return list(
        session.scalars(
            select(LogEntry)
            .where(LogEntry.property_area_id == area.id, LogEntry.seq >= start)
            .order_by(LogEntry.seq)
        )
    )
