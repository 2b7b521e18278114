"""Paper ballots entered twice by two staff members (see docs/PAPER.md).

A `PaperSheet` is one voter's paper ballot for one meeting; it holds only where the double
entry stands (status, round, which entry counts), like `CountedBallot` for electronic
ballots. What each staff member typed is a `PaperEntry` and each decision on a sheet whose
entries differ is a `PaperResolution`: both are stored once and never changed (the
database refuses UPDATE and DELETE on them), so every earlier entry stays on record.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from voting.domain.paper import Decision, SheetStatus
from voting.models.base import Base, BigId, UTCDateTime, str_enum, utcnow
from voting.models.roll import Holder
from voting.models.users import User


class PaperSheet(Base):
    """One voter's paper ballot for one meeting, and where its double entry stands."""

    __tablename__ = "paper_sheets"
    __table_args__ = (
        UniqueConstraint("meeting_id", "holder_id"),
        CheckConstraint("round >= 1", name="round_positive"),
        CheckConstraint(
            "(status IN ('matched', 'resolved')) = (accepted_position IS NOT NULL)",
            name="accepted_when_counting",
        ),
        CheckConstraint("accepted_position IN (1, 2)", name="accepted_position_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    property_area_id: Mapped[int] = mapped_column(ForeignKey("property_areas.id"))
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"))
    holder_id: Mapped[int] = mapped_column(ForeignKey("holders.id"))
    status: Mapped[SheetStatus] = mapped_column(str_enum(SheetStatus, "paper_sheet_status"))
    # The current round of entries; a discard starts the next one.
    round: Mapped[int] = mapped_column(Integer, default=1)
    # Which entry of the current round counts (matched: 1; resolved: the chosen one).
    accepted_position: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    holder: Mapped[Holder] = relationship()


class PaperEntry(Base):
    """What one staff member entered for a sheet: stored once, never changed."""

    __tablename__ = "paper_entries"
    __table_args__ = (
        # At most two entries per round, by two different staff members.
        UniqueConstraint("sheet_id", "round", "position"),
        UniqueConstraint("sheet_id", "round", "entered_by_id"),
        CheckConstraint("position IN (1, 2)", name="position_range"),
        CheckConstraint("round >= 1", name="round_positive"),
        Index("ix_paper_entries_meeting_image", "meeting_id", "image_sha256"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    property_area_id: Mapped[int] = mapped_column(ForeignKey("property_areas.id"))
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"))
    sheet_id: Mapped[int] = mapped_column(ForeignKey("paper_sheets.id"))
    round: Mapped[int] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer)
    # The voter, as the staff member entered them.
    holder_id: Mapped[int] = mapped_column(ForeignKey("holders.id"))
    # Canonical JSON {"<motion id>": choice}; a motion left out was not voted on.
    choices: Mapped[str] = mapped_column(Text)
    # SHA-256 (hex) of the scanned image of the sheet; the image itself is never uploaded.
    image_sha256: Mapped[str] = mapped_column(String(64))
    entered_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    entered_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Leaf index of the "paper.entry" entry in the area's log.
    log_seq: Mapped[int] = mapped_column(BigInteger)

    entered_by: Mapped[User] = relationship()


class PaperResolution(Base):
    """A committee admin's decision on a sheet's round: stored once, never changed."""

    __tablename__ = "paper_resolutions"
    __table_args__ = (
        UniqueConstraint("sheet_id", "round"),
        CheckConstraint(
            "(decision = 'discard') = (accepted_position IS NULL)", name="accepted_unless_discard"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    property_area_id: Mapped[int] = mapped_column(ForeignKey("property_areas.id"))
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"))
    sheet_id: Mapped[int] = mapped_column(ForeignKey("paper_sheets.id"), index=True)
    round: Mapped[int] = mapped_column(Integer)
    decision: Mapped[Decision] = mapped_column(str_enum(Decision, "paper_decision"))
    accepted_position: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    resolved_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    resolved_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    log_seq: Mapped[int] = mapped_column(BigInteger)

    resolved_by: Mapped[User] = relationship()
