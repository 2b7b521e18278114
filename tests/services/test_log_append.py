"""The per-area log: canonical entries, RFC 9162 leaf hashes, numbered without gaps."""

from __future__ import annotations

import contextlib
import threading
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crypto.canonical import parse_canonical
from crypto.merkle import leaf_hash
from voting.database import get_database
from voting.models import LogEntry, PropertyArea
from voting.services import use_case
from voting.services.log import append, entries
from voting.services.tenancy import AreaPath, ensure_property_area


def _area(db: Session, code: str = "A1") -> PropertyArea:
    return ensure_property_area(
        db,
        AreaPath(("d", "区"), ("s", "街道"), ("c", "社区"), (code, "小区")),
    )


@use_case
def _record(session: Session, area_id: int, n: int) -> None:
    area = session.get(PropertyArea, area_id)
    assert area is not None
    append(session, area, "test.event", {"n": n})


def test_log_append_entries_are_canonical_and_hashed(db: Session) -> None:
    area = _area(db)
    _record(db, area.id, 1)
    _record(db, area.id, 2)
    rows = entries(db, area)
    assert [row.seq for row in rows] == [0, 1]
    for row in rows:
        assert row.leaf_hash == leaf_hash(row.entry)
        parsed = parse_canonical(row.entry)
        assert parsed["area"] == "A1" and parsed["seq"] == row.seq
        assert parsed["kind"] == "test.event"
    assert parse_canonical(rows[1].entry)["data"] == {"n": 2}


def test_log_append_rolls_back_with_its_use_case(db: Session) -> None:
    area = _area(db)

    @use_case
    def failing(session: Session) -> None:
        append(session, area, "test.event", {"n": 1})
        raise RuntimeError("refused")

    with contextlib.suppress(RuntimeError):
        failing(db)
    _record(db, area.id, 2)
    rows = entries(db, area)
    assert [row.seq for row in rows] == [0]
    assert parse_canonical(rows[0].entry)["data"] == {"n": 2}


def test_log_append_concurrent_writers_leave_no_gaps(app: Any, db: Session) -> None:
    area_a, area_b = _area(db, "A1"), _area(db, "B2")
    database = get_database(app)
    errors: list[BaseException] = []

    def writer(area_id: int, n: int) -> None:
        try:
            with database.sessionmaker() as session:
                for i in range(n):
                    _record(session, area_id, i)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [
        threading.Thread(target=writer, args=(area_id, 10))
        for area_id in (area_a.id, area_a.id, area_a.id, area_b.id)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    db.expire_all()
    seqs_a = db.scalars(
        select(LogEntry.seq).where(LogEntry.property_area_id == area_a.id).order_by(LogEntry.seq)
    ).all()
    seqs_b = db.scalars(
        select(LogEntry.seq).where(LogEntry.property_area_id == area_b.id).order_by(LogEntry.seq)
    ).all()
    assert seqs_a == list(range(30))
    assert seqs_b == list(range(10))
