"""Owner cards (业主一卡通): the platform keeps public keys, certificates and PIN hashes only.

A card's seed (printed cards) or private key (chip cards) never stays on the server; its PIN
and PUK exist only in the PIN letter and as argon2id hashes here.
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from voting.models.base import Base, BigId, UTCDateTime, str_enum, utcnow
from voting.models.roll import Holder


class CardKind(enum.StrEnum):
    printed = "printed"  # seed in the QR code, key used in the browser
    chip = "chip"  # key generated on the chip, used through PKCS#11


class CardStatus(enum.StrEnum):
    active = "active"
    revoked = "revoked"


class IssuerKey(Base):
    """Public half of a platform issuer key; the seed stays in the instance folder."""

    __tablename__ = "issuer_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    key_id: Mapped[str] = mapped_column(String(16), unique=True)
    public_key: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Card(Base):
    __tablename__ = "cards"

    id: Mapped[int] = mapped_column(primary_key=True)
    property_area_id: Mapped[int] = mapped_column(ForeignKey("property_areas.id"), index=True)
    holder_id: Mapped[int] = mapped_column(ForeignKey("holders.id"), index=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    kind: Mapped[CardKind] = mapped_column(str_enum(CardKind, "card_kind"))
    status: Mapped[CardStatus] = mapped_column(str_enum(CardStatus, "card_status"))
    public_key: Mapped[str] = mapped_column(String(64), unique=True)
    issuer_key_id: Mapped[int] = mapped_column(ForeignKey("issuer_keys.id"))
    # The certificate exactly as signed (canonical JSON) and the issuer's signature.
    certificate: Mapped[bytes] = mapped_column(LargeBinary)
    certificate_signature: Mapped[bytes] = mapped_column(LargeBinary(64))
    not_after: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    pin_hash: Mapped[str] = mapped_column(String(255))
    puk_hash: Mapped[str] = mapped_column(String(255))
    failed_pins: Mapped[int] = mapped_column(Integer, default=0)
    locked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    issued_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    revoke_reason: Mapped[str | None] = mapped_column(Text)
    replaces_id: Mapped[int | None] = mapped_column(ForeignKey("cards.id"))

    holder: Mapped[Holder] = relationship()


class LoginChallenge(Base):
    """A one-time nonce a card must sign to log in; used or expired ones are refused."""

    __tablename__ = "login_challenges"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"), index=True)
    nonce: Mapped[str] = mapped_column(String(64), unique=True)
    client_addr: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
