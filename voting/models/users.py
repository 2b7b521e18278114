"""Staff accounts and server-side web sessions."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import Boolean, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from voting.models.base import Base, BigId, UTCDateTime, str_enum, utcnow


class Role(enum.StrEnum):
    operator = "operator"
    committee_admin = "committee_admin"
    residents_committee = "residents_committee"
    street_office = "street_office"
    observer = "observer"


class User(Base):
    """A staff member; owners log in with their card instead."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(str_enum(Role, "role", length=32))
    # The scope that fits the role: an area for committee admins and observers, a community
    # for the residents' committee, a street for the street office, a district (or none:
    # the whole city) for the operator.
    district_id: Mapped[int | None] = mapped_column(ForeignKey("districts.id"))
    street_id: Mapped[int | None] = mapped_column(ForeignKey("streets.id"))
    community_id: Mapped[int | None] = mapped_column(ForeignKey("communities.id"))
    property_area_id: Mapped[int | None] = mapped_column(ForeignKey("property_areas.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class WebSession(Base):
    """A login kept on the server: the cookie holds a random token, the row its SHA-256."""

    __tablename__ = "web_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    # Set for an owner logged in with a card; revoking the card deletes these rows.
    card_id: Mapped[int | None] = mapped_column(ForeignKey("cards.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), index=True)
    data: Mapped[str] = mapped_column(Text, default="{}")


class LoginFailure(Base):
    """A wrong password given for a username, kept for a while to slow down guessing.

    Rows are counted per username within a time window (across all app servers, since they
    live in the database) and deleted once they are older than that window.
    """

    __tablename__ = "login_failures"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # As typed (cut to the column's length): unknown usernames are throttled the same way.
    username: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
