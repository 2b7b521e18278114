"""The append-only log of each property area (RFC 9162 leaves).

Every state change appends one entry in the same transaction as the change. `LogHead` is
the per-area sequencer: bumping its size row-locks it, so concurrent appends to one area
queue up and the sequence has no gaps, while different areas never wait for each other.
The database refuses UPDATE and DELETE on entries (triggers in the migration).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, ForeignKey, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from voting.models.base import Base, BigId, UTCDateTime, utcnow


class LogHead(Base):
    __tablename__ = "log_heads"

    property_area_id: Mapped[int] = mapped_column(ForeignKey("property_areas.id"), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger, default=0)


class LogEntry(Base):
    __tablename__ = "log_entries"
    __table_args__ = (UniqueConstraint("property_area_id", "seq"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    property_area_id: Mapped[int] = mapped_column(ForeignKey("property_areas.id"))
    # 0-based leaf index within the area's log.
    seq: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(40))
    # The exact canonical JSON bytes that were hashed into the leaf.
    entry: Mapped[bytes] = mapped_column(LargeBinary)
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class LogNode(Base):
    """The hash of a complete subtree: leaves [index·2^level, (index+1)·2^level).

    Stored once the subtree is complete, so proofs are read, not recomputed from every leaf.
    """

    __tablename__ = "log_nodes"

    property_area_id: Mapped[int] = mapped_column(ForeignKey("property_areas.id"), primary_key=True)
    level: Mapped[int] = mapped_column(Integer, primary_key=True)
    index: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class Checkpoint(Base):
    """A signed checkpoint (C2SP signed note) of an area's log."""

    __tablename__ = "checkpoints"
    __table_args__ = (UniqueConstraint("property_area_id", "size"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    property_area_id: Mapped[int] = mapped_column(ForeignKey("property_areas.id"))
    size: Mapped[int] = mapped_column(BigInteger)
    root_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    # The whole signed note, exactly as served.
    note: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
