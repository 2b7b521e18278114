"""Helpers for log tests (importable from every test folder: `from logkit import ...`).

area = new_area(db)            a fresh property area with a code of its own
grow(db, area, 10)             append 10 "test.event" entries in one transaction
leaves(db, area)               the area's leaf hashes in order
signer(seed=LOG_SEED)          a LogSigner for platform PLATFORM
"""

from __future__ import annotations

import datetime as dt
import itertools

from sqlalchemy import select
from sqlalchemy.orm import Session

from crypto.keys import CardKey
from voting.models import LogEntry, PropertyArea
from voting.services import use_case
from voting.services.log import append
from voting.services.logtree import LogSigner, log_size
from voting.services.tenancy import AreaPath, ensure_property_area

PLATFORM = "vote.example.org"
LOG_SEED = bytes(range(0x40, 0x60))
T0 = dt.datetime(2026, 12, 1, 2, 0, tzinfo=dt.UTC)

_codes = itertools.count()


def new_area(db: Session, code: str | None = None) -> PropertyArea:
    code = code or f"T{next(_codes)}"
    return ensure_property_area(
        db, AreaPath(("d", "区"), ("s", "街道"), ("c", "社区"), (code, f"小区{code}"))
    )


@use_case
def grow(session: Session, area: PropertyArea, count: int) -> None:
    """Append `count` entries in one transaction."""
    start = log_size(session, area)
    for n in range(start, start + count):
        append(session, area, "test.event", {"n": n}, at=T0)


def leaves(db: Session, area: PropertyArea) -> list[bytes]:
    return list(
        db.scalars(
            select(LogEntry.leaf_hash)
            .where(LogEntry.property_area_id == area.id)
            .order_by(LogEntry.seq)
        )
    )


def signer(seed: bytes = LOG_SEED) -> LogSigner:
    return LogSigner(PLATFORM, CardKey(seed))
