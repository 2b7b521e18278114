"""Signed ballots, the one counted ballot per voter and motion, proxies and motion results.

A `Ballot` row is the statement and signature exactly as the owner's card signed them, plus
the columns the server derived from them; it never changes. Which ballot counts is kept
apart in `CountedBallot` (one row per motion and voter, primary key), so that the database
itself guarantees one counted ballot under concurrency, and a changed vote only moves that
pointer while every earlier ballot stays stored and logged.
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from voting.models.base import Base, BigId, UTCDateTime, str_enum, utcnow
from voting.models.cards import Card
from voting.models.roll import Holder


class Channel(enum.StrEnum):
    web = "web"  # the owner's phone or computer, after card login
    kiosk = "kiosk"  # an on-site kiosk with a card reader


class Ballot(Base):
    __tablename__ = "ballots"
    __table_args__ = (Index("ix_ballots_motion_holder", "motion_id", "holder_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    property_area_id: Mapped[int] = mapped_column(ForeignKey("property_areas.id"))
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"), index=True)
    motion_id: Mapped[int] = mapped_column(ForeignKey("motions.id"))
    # The voter: the holder whose vote this is (the owner, also when a proxy signed).
    holder_id: Mapped[int] = mapped_column(ForeignKey("holders.id"))
    # The card that signed: the owner's, or the proxy's.
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"))
    proxy_id: Mapped[int | None] = mapped_column(ForeignKey("proxies.id"))
    channel: Mapped[Channel] = mapped_column(str_enum(Channel, "ballot_channel"))
    # The statement's "choice" as canonical JSON ("\"yes\"", "[\"A\",\"B\"]").
    choice: Mapped[str] = mapped_column(Text)
    statement: Mapped[bytes] = mapped_column(LargeBinary)
    signature: Mapped[bytes] = mapped_column(LargeBinary(64))
    # SHA-256 (hex) of the statement bytes: the receipt's ballot hash.
    ballot_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The server-issued nonce; unique, so a statement can be stored once only.
    nonce: Mapped[str] = mapped_column(String(32), unique=True)
    cast_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Leaf index of the "ballot" entry in the area's log.
    log_seq: Mapped[int] = mapped_column(BigInteger)

    card: Mapped[Card] = relationship()
    holder: Mapped[Holder] = relationship()


class CountedBallot(Base):
    """Which ballot counts for a voter on a motion (electronic ballots only)."""

    __tablename__ = "counted_ballots"

    motion_id: Mapped[int] = mapped_column(ForeignKey("motions.id"), primary_key=True)
    holder_id: Mapped[int] = mapped_column(ForeignKey("holders.id"), primary_key=True)
    ballot_id: Mapped[int] = mapped_column(BigId, ForeignKey("ballots.id"), unique=True)
    # True when the owner's own card signed; a proxy ballot never replaces such a ballot.
    in_person: Mapped[bool] = mapped_column(Boolean)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    ballot: Mapped[Ballot] = relationship()


class Proxy(Base):
    """An owner's signed authorisation of a proxy for one meeting (委托书)."""

    __tablename__ = "proxies"
    __table_args__ = (
        # One authorisation in force per owner and meeting.
        Index(
            "uq_proxies_meeting_owner_active",
            "meeting_id",
            "owner_holder_id",
            unique=True,
            sqlite_where=text("withdrawn_at IS NULL"),
            postgresql_where=text("withdrawn_at IS NULL"),
        ),
        Index("ix_proxies_meeting_proxy", "meeting_id", "proxy_holder_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    property_area_id: Mapped[int] = mapped_column(ForeignKey("property_areas.id"))
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"))
    owner_holder_id: Mapped[int] = mapped_column(ForeignKey("holders.id"))
    proxy_holder_id: Mapped[int] = mapped_column(ForeignKey("holders.id"))
    owner_card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"))
    statement: Mapped[bytes] = mapped_column(LargeBinary)
    signature: Mapped[bytes] = mapped_column(LargeBinary(64))
    # SHA-256 (hex) of the statement bytes; a proxy ballot names it in its "proxy" member.
    statement_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # Canonical JSON {motion id: choice} of the owner's instructions, or NULL.
    instructions: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    log_seq: Mapped[int] = mapped_column(BigInteger)
    withdrawn_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    owner: Mapped[Holder] = relationship(foreign_keys=[owner_holder_id])
    proxy_holder: Mapped[Holder] = relationship(foreign_keys=[proxy_holder_id])


class MotionResult(Base):
    """The tally of a motion at close, as computed by `voting.domain.tally`."""

    __tablename__ = "motion_results"

    motion_id: Mapped[int] = mapped_column(ForeignKey("motions.id"), primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"), index=True)
    # Canonical JSON of the result (see docs/PROTOCOL.md), and its SHA-256 (hex).
    result: Mapped[bytes] = mapped_column(LargeBinary)
    result_sha256: Mapped[str] = mapped_column(String(64))
    tallied_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    log_seq: Mapped[int] = mapped_column(BigInteger)
