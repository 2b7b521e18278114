"""The owner roll: buildings, units and vote holders, with immutable versions.

Units and holders are stable identities; what a unit's area, status and holder are at a
given time lives in `RollEntry` rows of one `RollVersion`, which are never changed, so that
a meeting can always be tallied against the version it was opened with.
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from voting.models.base import Base, UTCDateTime, str_enum, utcnow


class AreaSource(enum.StrEnum):
    """Where a unit's area comes from, in the order of precedence of SPC art. 8."""

    registry = "registry"
    survey = "survey"
    contract = "contract"


class UnitStatus(enum.StrEnum):
    sold = "sold"
    unsold = "unsold"
    undelivered = "undelivered"


class HolderKind(enum.StrEnum):
    person = "person"
    entity = "entity"
    developer = "developer"


class Building(Base):
    __tablename__ = "buildings"
    __table_args__ = (UniqueConstraint("property_area_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    property_area_id: Mapped[int] = mapped_column(ForeignKey("property_areas.id"), index=True)
    name: Mapped[str] = mapped_column(String(50))


class Unit(Base):
    """An exclusive part (专有部分): identified by building and house number."""

    __tablename__ = "units"
    __table_args__ = (UniqueConstraint("building_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    property_area_id: Mapped[int] = mapped_column(ForeignKey("property_areas.id"), index=True)
    building_id: Mapped[int] = mapped_column(ForeignKey("buildings.id"))
    number: Mapped[str] = mapped_column(String(50))

    building: Mapped[Building] = relationship()


class Holder(Base):
    """A vote holder: a person, an entity, or the developer (all its unsold units are one)."""

    __tablename__ = "holders"
    __table_args__ = (
        UniqueConstraint("property_area_id", "ref"),
        UniqueConstraint("property_area_id", "id_hash"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    property_area_id: Mapped[int] = mapped_column(ForeignKey("property_areas.id"), index=True)
    # Pseudonymous id used in logs, exports and ballots instead of the name.
    ref: Mapped[str] = mapped_column(String(20))
    kind: Mapped[HolderKind] = mapped_column(str_enum(HolderKind, "holder_kind"))
    name: Mapped[str] = mapped_column(String(100))
    # Keyed hash (HMAC-SHA-256) of the normalised ID number; the number itself is never kept.
    id_hash: Mapped[str | None] = mapped_column(String(64))
    id_last4: Mapped[str | None] = mapped_column(String(4))
    phone: Mapped[str | None] = mapped_column(String(30))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class RollVersion(Base):
    __tablename__ = "roll_versions"
    __table_args__ = (
        UniqueConstraint("property_area_id", "number"),
        CheckConstraint("number >= 1", name="number_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    property_area_id: Mapped[int] = mapped_column(ForeignKey("property_areas.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    source_name: Mapped[str] = mapped_column(String(255))
    source_sha256: Mapped[str] = mapped_column(String(64))
    # SHA-256 of the canonical snapshot (house numbers, areas, holder refs): published later.
    content_sha256: Mapped[str] = mapped_column(String(64))
    unit_count: Mapped[int] = mapped_column(Integer)
    headcount: Mapped[int] = mapped_column(Integer)
    total_area_centi: Mapped[int] = mapped_column(BigInteger)

    entries: Mapped[list[RollEntry]] = relationship(
        back_populates="version", order_by="RollEntry.unit_id"
    )


class RollEntry(Base):
    """One unit in one roll version: immutable once written."""

    __tablename__ = "roll_entries"
    __table_args__ = (CheckConstraint("area_centi > 0", name="area_positive"),)

    roll_version_id: Mapped[int] = mapped_column(ForeignKey("roll_versions.id"), primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), primary_key=True)
    holder_id: Mapped[int] = mapped_column(ForeignKey("holders.id"), index=True)
    # Exact area in hundredths of a square metre.
    area_centi: Mapped[int] = mapped_column(BigInteger)
    area_source: Mapped[AreaSource] = mapped_column(str_enum(AreaSource, "area_source"))
    status: Mapped[UnitStatus] = mapped_column(str_enum(UnitStatus, "unit_status"))
    is_parking: Mapped[bool] = mapped_column(Boolean, default=False)
    co_owners: Mapped[str | None] = mapped_column(String(200))
    guardian: Mapped[str | None] = mapped_column(String(100))

    version: Mapped[RollVersion] = relationship(back_populates="entries")
    unit: Mapped[Unit] = relationship()
    holder: Mapped[Holder] = relationship()


class RollUpload(Base):
    """A roll file checked and waiting for the admin to confirm the difference it makes."""

    __tablename__ = "roll_uploads"

    id: Mapped[int] = mapped_column(primary_key=True)
    property_area_id: Mapped[int] = mapped_column(ForeignKey("property_areas.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    filename: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    # The version the difference was computed against; confirming fails if it moved on.
    base_version_id: Mapped[int | None] = mapped_column(ForeignKey("roll_versions.id"))
    summary: Mapped[str | None] = mapped_column(Text)
