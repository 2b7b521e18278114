"""Rules of procedure, meetings, motions and their options (see docs/PROCEDURE.md).

An area's rules of procedure are one row, updated in place; every change is logged with the
full new rules ("rules.update"), so the log holds their history. A meeting copies the rules
in force when its notice is posted, so a later edit never changes a noticed meeting.
"""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from voting.domain.procedure import MeetingState, ResultDetail
from voting.domain.tally import MotionKind
from voting.models.base import Base, UTCDateTime, str_enum, utcnow


class Rules(Base):
    """The rules of procedure (议事规则) of one property area."""

    __tablename__ = "rules_of_procedure"
    __table_args__ = (
        CheckConstraint("notice_days >= 15", name="notice_days_min"),
        CheckConstraint("proxy_cap >= 1", name="proxy_cap_positive"),
    )

    property_area_id: Mapped[int] = mapped_column(ForeignKey("property_areas.id"), primary_key=True)
    notice_days: Mapped[int] = mapped_column(Integer)
    allow_vote_change: Mapped[bool] = mapped_column(Boolean)
    proxy_cap: Mapped[int] = mapped_column(Integer)
    parking_counts: Mapped[bool] = mapped_column(Boolean)
    result_detail: Mapped[ResultDetail] = mapped_column(str_enum(ResultDetail, "result_detail"))
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class Meeting(Base):
    """An owners' assembly meeting and where it stands in its lifecycle."""

    __tablename__ = "meetings"
    __table_args__ = (
        CheckConstraint("window_closes_at > window_opens_at", name="window_order"),
        CheckConstraint(
            "state = 'draft' OR (notice_posted_at IS NOT NULL AND window_opens_at IS NOT NULL"
            " AND window_closes_at IS NOT NULL AND rules_notice_days IS NOT NULL)",
            name="noticed_fields",
        ),
        CheckConstraint(
            "state IN ('draft', 'noticed') OR (opened_at IS NOT NULL"
            " AND roll_version_id IS NOT NULL AND roll_sha256 IS NOT NULL)",
            name="opened_fields",
        ),
        CheckConstraint(
            "state <> 'annulled' OR (annulled_at IS NOT NULL AND annulment_reason IS NOT NULL)",
            name="annulled_fields",
        ),
        CheckConstraint("rules_notice_days >= 15", name="rules_notice_days_min"),
        CheckConstraint("rules_proxy_cap >= 1", name="rules_proxy_cap_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    property_area_id: Mapped[int] = mapped_column(ForeignKey("property_areas.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    state: Mapped[MeetingState] = mapped_column(str_enum(MeetingState, "meeting_state"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    notice_posted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    window_opens_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    window_closes_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    opened_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # The roll snapshot the meeting is tallied against, and its content hash (published).
    roll_version_id: Mapped[int | None] = mapped_column(ForeignKey("roll_versions.id"))
    roll_sha256: Mapped[str | None] = mapped_column(String(64))
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    published_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    publication_late: Mapped[bool | None] = mapped_column(Boolean)
    annulled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    annulment_reason: Mapped[str | None] = mapped_column(Text)
    annulled_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # The rules of procedure in force when the notice was posted (None while a draft).
    rules_notice_days: Mapped[int | None] = mapped_column(Integer)
    rules_allow_vote_change: Mapped[bool | None] = mapped_column(Boolean)
    rules_proxy_cap: Mapped[int | None] = mapped_column(Integer)
    rules_parking_counts: Mapped[bool | None] = mapped_column(Boolean)
    rules_result_detail: Mapped[ResultDetail | None] = mapped_column(
        str_enum(ResultDetail, "meeting_result_detail")
    )

    motions: Mapped[list[Motion]] = relationship(
        back_populates="meeting", order_by="Motion.position", cascade="all, delete-orphan"
    )


class Motion(Base):
    """A matter put to the vote at a meeting."""

    __tablename__ = "motions"
    __table_args__ = (
        UniqueConstraint("meeting_id", "position"),
        CheckConstraint("matter BETWEEN 1 AND 9", name="matter_range"),
        CheckConstraint("position >= 1", name="position_positive"),
        CheckConstraint("seats >= 0", name="seats_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"))
    position: Mapped[int] = mapped_column(Integer)
    # Civil Code art. 278 matter (1)-(9); the majority rule follows from it.
    matter: Mapped[int] = mapped_column(Integer)
    kind: Mapped[MotionKind] = mapped_column(str_enum(MotionKind, "motion_kind"))
    title: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    seats: Mapped[int] = mapped_column(Integer, default=0)
    # JSON list of building names, sorted; NULL: all buildings.
    scope_json: Mapped[str | None] = mapped_column(Text)

    meeting: Mapped[Meeting] = relationship(back_populates="motions")
    options: Mapped[list[MotionOption]] = relationship(
        back_populates="motion", order_by="MotionOption.position", cascade="all, delete-orphan"
    )

    @property
    def scope(self) -> frozenset[str] | None:
        if self.scope_json is None:
            return None
        return frozenset(json.loads(self.scope_json))


class MotionOption(Base):
    """An option of a choice motion or a candidate of an election."""

    __tablename__ = "motion_options"
    __table_args__ = (
        UniqueConstraint("motion_id", "position"),
        UniqueConstraint("motion_id", "label"),
        CheckConstraint("position >= 1", name="position_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    motion_id: Mapped[int] = mapped_column(ForeignKey("motions.id"))
    position: Mapped[int] = mapped_column(Integer)
    label: Mapped[str] = mapped_column(String(200))

    motion: Mapped[Motion] = relationship(back_populates="options")
